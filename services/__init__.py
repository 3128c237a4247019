"""Service layer: everything that is not UI (settings, database, domain rules, CLI). Never imports streamlit."""
