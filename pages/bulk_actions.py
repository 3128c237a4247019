"""Bulk actions (operators): a rep out (their events unscheduled or given to others), every missing Supervisor staffed,
every finding of a rule fixed — previewed item by item, then run as a batch with a progress bar, each item an ordinary
operation, and undone item by item."""
from datetime import date, timedelta

import streamlit as st

from dashboard import bulk_ui, reads
from dashboard.actions_ui import acting_user, can, result_banner
from dashboard.wiring import get_batches
from services.actions.batches import MAX_RANGE_DAYS, RepOutMode
from services.quality.fixes import FIXABLE_RULES
from services.quality.rules import rule_title

REP_OUT, SUPERVISORS, FIX = "Rep out", "Staff missing Supervisors", "Fix a rule's findings"
MODE_LABELS = {RepOutMode.UNSCHEDULE: "Unschedule them", RepOutMode.REASSIGN_TO: "Give them all to one rep",
               RepOutMode.REASSIGN_SUGGESTED: "Give each to its top suggested rep"}

st.title("Bulk actions")
st.caption("Many changes at once. The preview lists every item and exactly what it would do; nothing changes until "
           "you confirm. Each item runs as an operation of its own (in the Operations journal, grouped under its "
           "batch), and a batch can be undone item by item.")
if not can("batch"):
    st.info("Bulk actions change the schedule: they need an operator.", icon=":material/lock:")
    st.stop()
result_banner()
bulk_ui.show_result("bulk")

what = st.segmented_control("Batch", [REP_OUT, SUPERVISORS, FIX], default=REP_OUT, key="bulk_kind", required=True)
today = date.today()


def date_range(name: str, days: int) -> tuple[date, date]:
    start, end = st.columns(2)
    first = start.date_input("From", value=today, format="YYYY-MM-DD", key=f"bulk_{name}_from")
    # No min_value tied to From: a kept To before a From moved later would stop the page; the preview says what is
    # wrong with a range instead (ends before it starts, longer than MAX_RANGE_DAYS).
    last = end.date_input("To", value=today + timedelta(days=days), format="YYYY-MM-DD", key=f"bulk_{name}_to",
                          help=f"At most {MAX_RANGE_DAYS} days after From.")
    return first, last


if what == REP_OUT:
    st.header("A rep is out")
    people = reads.reps()
    names = {row.id: f"{row.name} — {row.job_title or 'no job title'}" + ("" if row.active else " (inactive)")
             for row in people.itertuples()}
    rep = st.selectbox("Rep who is out", list(names), index=None, format_func=names.get, key="bulk_rep",
                       placeholder="Choose the rep")
    first, last = date_range("rep", 0)
    mode = st.radio("Their events", list(MODE_LABELS), format_func=MODE_LABELS.get, key="bulk_mode",
                    horizontal=True)
    to = None
    if mode == RepOutMode.REASSIGN_TO:
        to = st.selectbox("Give them to", [person for person in names if person != rep], index=None,
                          format_func=names.get, key="bulk_to", placeholder="Choose who takes over")
    if rep is None or (mode == RepOutMode.REASSIGN_TO and to is None):
        st.caption("Choose the rep" + (" and who takes over" if mode == RepOutMode.REASSIGN_TO else "") + ".")
    else:
        bulk_ui.batch_flow("rep_out", "bulk", (rep, first, last, mode, to),
                           lambda dry_run, key, progress: get_batches().rep_out(
                               rep, first, last, mode, acting_user(), reassign_to=to, key=key, dry_run=dry_run,
                               progress=progress),
                           empty="The rep holds no event in these days.")
elif what == SUPERVISORS:
    st.header("Staff every missing Supervisor")
    st.caption("Each Unstaffed Supervisor of a CORE scheduled in these days, at the rule time, with the top suggested "
               "lead who breaks no rule.")
    first, last = date_range("supervisors", 6)
    bulk_ui.batch_flow("supervisors", "bulk", (first, last),
                       lambda dry_run, key, progress: get_batches().staff_supervisors(
                           first, last, acting_user(), key=key, dry_run=dry_run, progress=progress),
                       empty="No scheduled CORE in these days has an Unstaffed Supervisor.")
else:
    st.header("Fix every finding of a rule")
    rule = st.selectbox("Rule", list(FIXABLE_RULES), format_func=rule_title, key="bulk_rule")
    narrowed = st.checkbox("Only findings on some days", key="bulk_fix_days")
    first, last = date_range("fix", 6) if narrowed else (None, None)
    bulk_ui.batch_flow("fix", "bulk", (rule, first, last),
                       lambda dry_run, key, progress: get_batches().fix(
                           rule, first, last, acting_user(), key=key, dry_run=dry_run, progress=progress),
                       empty="This rule has no open finding with a fix" + (" on these days." if narrowed else "."))
