"""The floor of measure 7 (bench/run.py): a one-line Streamlit page, run through AppTest the way the app's pages are."""
import streamlit as st

st.write("A one-line Streamlit page.")
