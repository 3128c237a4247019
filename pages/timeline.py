"""Event timeline: one event's history (actions, their Crossmark calls, audit entries, findings) and where it stands
now in our database and, read live, in Crossmark, side by side."""
import pandas as pd
import streamlit as st

from dashboard import query_state
from dashboard.components import download_csv, page_path, type_badge, when
from dashboard.markdown_text import plain
from dashboard.wiring import crossmark_client, get_engine
from services.domain import input_limits
from services.errors import InvalidInput, NotFound, OpsError
from services.reads.timeline import KIND_TITLES, Standing, entry_status_label, event_timeline


def standing_card(title: str, standing: Standing, differences: tuple[str, ...]) -> None:
    """One system's side: each field on its own line, the ones that differ from the other side in red."""
    st.markdown(f"**{plain(title)}**")

    def line(label: str, value: object, field: str | None = None) -> str:
        shown = plain(value) if value not in (None, "") else "—"
        return f"{label}: " + (f":red[**{shown}**] (differs)" if field in differences else f"**{shown}**")

    lines = [line("Scheduled", "yes" if standing.scheduled else "no", "scheduled or not")]
    if standing.scheduled:
        # the rep by name; Crossmark's rep id only when no name is known for it
        rep = standing.rep_name or (f"rep id {standing.rep_id}" if standing.rep_id else "unknown rep")
        lines += [line("When", when(standing.start), "time"), line("Rep", rep, "rep"),
                  line("Scheduled-event id", standing.scheduled_event_id, "Crossmark scheduled-event id")]
    lines.append(line("Condition", standing.condition))
    st.markdown("  \n".join(lines))


def show(ref: int) -> None:
    """Another event's timeline in place of this one (a callback runs before the page, so the ref box can follow)."""
    st.session_state.timeline_ref = ref
    st.session_state.timeline_ref_input = str(ref)


st.title("Event timeline")
st.caption("Everything that touched one event: actions and their Crossmark calls, audit entries and data-quality "
           "findings, and where the event stands now in our database and in Crossmark.")

ref = query_state.page_value("ref", "timeline_ref", query_state.read_ref,
                             {"timeline_ref_input": lambda shown: "" if shown is None else str(shown)})
ref_column, _ = st.columns([1, 2])
typed = ref_column.text_input("Event ref", key="timeline_ref_input",
                              max_chars=len(str(input_limits.INT_MAX)), placeholder="e.g. 606001",
                              help="The event's ref (project ref number); press Enter to show it.").strip()
if typed != ("" if ref is None else str(ref)):
    try:
        ref = input_limits.event_ref(typed) if typed else None
    except InvalidInput as refusal:
        st.error(plain(refusal), icon=":material/error:")
        st.stop()
    st.session_state.timeline_ref = ref
query_state.remember("ref", "timeline_ref", "" if ref is None else str(ref))
if ref is None:
    st.info("Type an event ref above, or open an event's timeline from the Day view, the Operations page or the "
            "Audit trail.", icon=":material/timeline:")
    st.stop()

try:
    with st.spinner("Reading the event in our database and in Crossmark…"):
        timeline = event_timeline(get_engine(), ref, client_factory=crossmark_client)
except NotFound:
    st.warning(f"There is no event with ref {ref} in our database.", icon=":material/search_off:")
    st.stop()
except OpsError as error:
    st.error(plain(error), icon=":material/error:")
    st.stop()

event, remote = timeline.event, timeline.crossmark
st.header(plain(event.name))
st.markdown(f"{type_badge(event.event_type)} &nbsp;<span style='color:#4b5563'>ref {event.ref} · "
            f"{plain(event.store)} · window {plain(event.window)}</span>", unsafe_allow_html=True)
with st.container(horizontal=True, vertical_alignment="center"):
    if timeline.database.scheduled and timeline.database.start is not None:
        st.page_link(page_path("day"), label="Open its day", icon=":material/today:",
                     query_params={"date": f"{timeline.database.start:%Y-%m-%d}"})
    for other in event.counterparts:  # its pair (same number, same store), or duplicates; a link to this very page
        # would not navigate, so a button shows it here
        st.button(f"Timeline of {plain(other.event_type)} {other.ref}", key=f"timeline_show_{other.ref}",
                  type="tertiary", icon=":material/link:", on_click=show, args=(other.ref,),
                  help="Same event number at the same store")

st.header("Now")
if timeline.agree is True:
    st.success(f"Our database and {plain(remote.label)} agree.", icon=":material/check_circle:")
elif timeline.agree is False:
    st.error(f"Our database and {plain(remote.label)} disagree: {plain(', '.join(timeline.differences))}.",
             icon=":material/error:")
else:
    st.warning(f"Not compared: {plain(remote.problem)}", icon=":material/help:")
ours, theirs = st.columns(2)
with ours.container(border=True):
    standing_card("Our database", timeline.database, timeline.differences)
with theirs.container(border=True):
    if remote.standing is not None:
        standing_card(f"{remote.label}, read just now", remote.standing, timeline.differences)
    else:
        st.markdown(f"**{plain(remote.label)}**")
        st.markdown(plain(remote.problem))
if remote.sandbox:
    st.caption("SANDBOX: an in-process stand-in answers for Crossmark; nothing was read from the real Crossmark.")
st.button("Read again", icon=":material/refresh:", key="timeline_refresh")

st.header(f"History · {len(timeline.entries)}")
if not timeline.entries:
    st.info("Nothing has touched this event yet: no action, audit entry or data-quality finding.",
            icon=":material/history:")
else:
    # A static table wraps long details instead of cutting them. Its cells are Markdown: every text is escaped.
    rows = []
    for entry in timeline.entries:
        operation = f"operation {entry.operation_id}" if entry.operation_id is not None else None
        entry_text = " · ".join(plain(part) for part in (KIND_TITLES.get(entry.kind, entry.kind), operation,
                                                         entry_status_label(entry.status), entry.who) if part)
        details = f"**{plain(entry.summary)}**" + (f" — {plain(entry.detail)}" if entry.detail else "")
        rows.append({"When": f"{entry.at:%a %b %d, %H:%M:%S}", "Entry": entry_text, "Details": details})
    st.table(pd.DataFrame(rows), border="horizontal", hide_index=True, alt=f"History of event {ref}, oldest first")
    download_csv(pd.DataFrame({
        "when": [entry.at for entry in timeline.entries], "kind": [entry.kind for entry in timeline.entries],
        "operation": [entry.operation_id for entry in timeline.entries],
        "status": [entry.status for entry in timeline.entries], "who": [entry.who for entry in timeline.entries],
        "summary": [entry.summary for entry in timeline.entries],
        "detail": [entry.detail for entry in timeline.entries]}), f"timeline-{ref}.csv")
if timeline.older_operations_unsearched:
    st.caption("Refused and rolled-back requests are looked up among the most recent operations; older ones appear "
               "here when they changed the event.")
