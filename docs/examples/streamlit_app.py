"""A Streamlit app: every session tracks through one shared ``Tracker``, per customer.

Run it (the tracker reads ``AICM_API_KEY``, ``AICM_API_BASE``... from the environment)::

    pip install 'aicostmanager[streamlit]'
    streamlit run docs/examples/streamlit_app.py
"""

from __future__ import annotations

import streamlit as st

from aicostmanager import tracking_scope
from aicostmanager.integrations.streamlit import shared_tracker

tracker = shared_tracker()  # one per server process, shared by every session and rerun
st.session_state.setdefault("tracked", [])
st.session_state["tracker_id"] = id(tracker)

customer = st.text_input("Customer", value="acme")
prompt = st.text_input("Prompt", value="Hello there")
if st.button("Ask"):
    with tracking_scope(customer_key=customer, context={"app": "streamlit"}):
        # A real app calls its (wrapped) LLM client here; we record a made-up usage.
        usage = {"input_tokens": len(prompt.split()), "output_tokens": 42}
        result = tracker.track("openai::gpt-5-mini", usage)
    st.session_state["tracked"].append(result.response_id)
    st.success(f"Tracked {result.response_id} ({result.status})")
st.caption(f"{len(st.session_state['tracked'])} call(s) tracked in this session")
