// CSV export of the dashboard's tables, safe to open in a spreadsheet (OWASP "CSV injection").
// A spreadsheet may split a cell at ";" or "," even inside quotes (locale-dependent), so every
// "=", "+", "-", "@", tab or CR that starts a cell, or follows a ";", "," or line break inside
// one (after optional spaces), is prefixed with "'". A cell that is only a decimal number
// (such as -0.25 or 1e-6) is kept as is, so negative amounts stay numbers. Every cell is quoted.
"use strict";
(function (root) {
  const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
  const TRIGGER = /(^|[;,\n])( *)([=+\-@\t\r])/g;
  function cell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (!NUMBER.test(text)) text = text.replace(TRIGGER, "$1$2'$3");
    return `"${text.replace(/"/g, '""')}"`;
  }
  function table(rows) {
    return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
  }
  root.AICM_CSV = Object.freeze({ cell, table });
})(typeof globalThis !== "undefined" ? globalThis : this);
