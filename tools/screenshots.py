"""Screenshots of the dashboard's pages for the README and for reviews: `make screenshots` (or
`python -m tools.screenshots --out DIR [--pages calendar,day]`).

The app runs as in the browser tests (tests/e2e/conftest.py: the sprint2 scenario plus demo events on a fresh SQLite
file, the fake Crossmark, `streamlit run dashboard/server.py`); an operator signs in and each page is captured at
1440×1000 (desktop) and 390×844 (phone), the visible window only — what a person sees before scrolling.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"desktop": (1440, 1000), "phone": (390, 844)}


def _pages() -> dict[str, tuple[str, str]]:
    from tests.e2e.conftest import DAY

    # page key -> (path, a text on the page once it has rendered)
    return {
        "overview": ("/", "Busiest days"),
        "calendar": (f"/calendar?month={DAY:%Y-%m}", "Scheduled this month"),
        "day": (f"/day?date={DAY.isoformat()}", f"{DAY:%A, %B %d, %Y}"),
        "unscheduled": ("/unscheduled", "Unscheduled events"),
        "data_quality": ("/data_quality", "Open findings"),
        "bulk_actions": ("/bulk_actions", "A rep is out"),
        "type_counts": ("/type_counts", "Event type counts"),
        "operations": ("/operations", "Operations"),
        "audit": ("/audit", "Audit"),
        "timeline": ("/timeline", "Event timeline"),
        "operations_health": ("/operations_health", "Operations health"),
    }


def main(argv: list[str] | None = None) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from services.quality.checks import run_check
    from services.settings import load_settings
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, OPERATOR, Dashboard, running_app

    every_page = _pages()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--pages", default=",".join(every_page), help="comma-separated: " + ", ".join(every_page))
    parser.add_argument("--events", type=int, default=1200, help="demo events besides the scenario")
    options = parser.parse_args(argv)
    wanted = [name.strip() for name in options.pages.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(every_page))
    if unknown:
        parser.error(f"unknown page(s): {', '.join(unknown)}")
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory, \
            running_app(f"sqlite:///{directory}/scheduler.db", Path(directory), demo_events=options.events) as app:
        run_check(app.engine, load_settings({"SCHEDULER_DATABASE_URL": app.database_url}), triggered_by="screenshots")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            for size_name, (width, height) in SIZES.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                dashboard = Dashboard(context.new_page(), app)
                dashboard.sign_in(OPERATOR)
                for name in wanted:
                    path, rendered = every_page[name]
                    dashboard.navigate(path)
                    dashboard.see(rendered)
                    dashboard.wait_idle()
                    target = options.out / f"{name}-{size_name}.png"
                    dashboard.page.screenshot(path=str(target))
                    print(target)
                context.close()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
