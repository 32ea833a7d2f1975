"""Import one interaction of a VCR cassette into a corpus recording (a maintainer's script).

Usage::

    python tests/recordings/_import_vcr.py GIT_DIR COMMIT CASSETTE_PATH INDEX API NAME \
        [--vendor V] [--repository owner/name] [--licence MIT]

``GIT_DIR`` is a local clone of the source repository; the cassette is read at ``COMMIT``
(never from a work tree, so the recorded commit is the one noted). The recording is written to
``tests/recordings/<api>/<name>.json`` with its source (repository, path, commit, URL, licence).
Strings longer than 4,000 characters in JSON bodies are shortened and the change is noted in
the recording's ``notes``: base64 (images, video, thought signatures) becomes the base64 of
``b"elided"`` (still valid for the SDKs that decode it), other text ``"<elided N chars>"``.
Usage and ids are never touched.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

_KEEP_HEADERS = ("content-type", "x-amzn-requestid", "request-id", "x-request-id")
_LIMIT = 4000
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_STUB = base64.b64encode(b"elided").decode()


def _elide(value: Any, notes: list[str], where: str) -> Any:
    if isinstance(value, str) and len(value) > _LIMIT:
        if _BASE64.fullmatch(value):
            # SDKs decode base64 fields (images, thought signatures): keep them valid base64.
            notes.append(f"{where}: {len(value)} characters of base64 replaced by {_STUB!r}")
            return _STUB
        notes.append(f"{where}: a {len(value)}-character string elided")
        return f"<elided {len(value)} chars>"
    if isinstance(value, dict):
        return {k: _elide(v, notes, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(v, notes, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _body(part: dict[str, Any], notes: list[str], where: str) -> dict[str, Any]:
    if "parsed_body" in part:
        return {"json": _elide(part["parsed_body"], notes, where)}
    raw = (part.get("body") or {}).get("string") if isinstance(part.get("body"), dict) else None
    if raw is None and isinstance(part.get("body"), str):
        raw = part["body"]
    if isinstance(raw, bytes):
        return {"base64": base64.b64encode(raw).decode()}
    if raw is None:
        return {}
    try:
        return {"json": _elide(json.loads(raw), notes, where)}
    except ValueError:
        return {"text": raw}


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("git_dir", "commit", "path", "index", "api", "name"):
        parser.add_argument(name)
    parser.add_argument("--vendor", default=None)
    parser.add_argument("--repository", default="pydantic/pydantic-ai")
    parser.add_argument("--licence", default="MIT")
    args = parser.parse_args()
    text = subprocess.run(
        ["git", "-C", args.git_dir, "show", f"{args.commit}:{args.path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    interaction = yaml.safe_load(text)["interactions"][int(args.index)]
    request, response = interaction["request"], interaction["response"]
    notes: list[str] = []
    headers = {
        key.lower(): (value[0] if isinstance(value, list) else value)
        for key, value in (response.get("headers") or {}).items()
        if key.lower() in _KEEP_HEADERS
    }
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    request_body = _body(request, notes, "request")
    if len(json.dumps(request_body)) > 20_000:
        notes.append("request: body over 20 kB dropped (only the model and stream flag kept)")
        kept = request_body.get("json") or {}
        request_body = {"json": {k: kept[k] for k in ("model", "stream") if k in kept}}
    record = {
        "name": args.name,
        "api": args.api,
        "vendor": args.vendor,
        "source": {
            "repository": args.repository,
            "path": args.path,
            "commit": args.commit,
            "interaction": int(args.index),
            "url": f"https://github.com/{args.repository}/blob/{args.commit}/{args.path}",
            "licence": args.licence,
        },
        "notes": notes,
        "request": {"method": request["method"], "uri": request["uri"], "body": request_body},
        "response": {
            "status": response["status"]["code"],
            "headers": headers,
            "body": _body(response, notes, "response"),
        },
    }
    out = Path(__file__).parent / args.api / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
