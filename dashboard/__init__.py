"""The Streamlit app: entry point, navigation, cached wiring and UI components shared by pages."""
