"""Export layer: a DataFrame as CSV or Excel bytes whose cells a spreadsheet reads as data, never as formulas.

Names and notes come from Crossmark and from people, so any of them may start like a formula (`=HYPERLINK(...)`).
CSV cannot mark a cell as text, so such text gets a leading `'` (OWASP's advice on CSV injection); the spreadsheet
shows the text after it. Excel cells are written as string cells, which Excel never evaluates, with the text kept
exact (no `'` added; line breaks as LF, as XML reads them) and Excel's "quote prefix" set on the risky ones, so
editing such a cell in Excel keeps it text too.
Numbers stay numbers (a negative number is not text), and refs stay whole numbers.
"""
from __future__ import annotations

import io
import re
from datetime import date, datetime, time
from decimal import Decimal

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell

# An export holds every row its filters select, up to this many (the pages say so); Excel's own limit is 1,048,576.
EXPORT_ROW_LIMIT = 100_000

# What a spreadsheet may take for the start of a formula: = + - @, and tab or carriage return before one (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARKER = "'"

# Control characters an .xlsx file cannot hold (openpyxl refuses them); each becomes U+FFFD so the export still opens.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PLAIN_VALUES = (bool, int, float, Decimal, datetime, date, time)


def starts_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def inert_csv_text(text: str) -> str:
    """Text as a CSV cell: with a leading `'` when a spreadsheet would otherwise run it as a formula."""
    return TEXT_MARKER + text if starts_like_formula(text) else text


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (header row, no index) in which no cell is a formula."""
    cells = _export_cells(frame)
    for position in range(cells.shape[1]):
        inert = pd.Series([inert_csv_text(value) if isinstance(value, str) else value
                           for value in cells.iloc[:, position]], index=cells.index, dtype=object)
        cells.isetitem(position, inert)  # type: ignore[arg-type]  # see _export_cells
    header = [inert_csv_text(str(name)) for name in cells.columns]
    # CRLF ends a row (RFC 4180), and the writer quotes any cell holding a CR or LF: a bare CR inside an unquoted cell
    # would start a new row in a spreadsheet, and the text after it a new cell that could be a formula.
    return cells.to_csv(index=False, header=header, lineterminator="\r\n").encode("utf-8")


def xlsx_bytes(frame: pd.DataFrame, sheet_name: str) -> bytes:
    """The frame as an Excel workbook of one sheet (header row, no index): text in string cells, numbers as numbers,
    dates as dates, missing values as empty cells."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    cells = _export_cells(frame)
    sheet.append([_string_cell(sheet, str(name)) for name in cells.columns])
    for row in cells.itertuples(index=False, name=None):
        sheet.append([_string_cell(sheet, value) if isinstance(value, str) else value for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _export_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One value per cell, of a kind both writers handle: None for missing, Python numbers, dates and text.

    A column of whole numbers with a gap (a ref that may be missing) comes out of pandas as floats and would be written
    `1001999.0`; it becomes a nullable integer column. Anything else that is not a plain value (a dict, a list) is
    written as its text, and so is checked like any other text."""
    cells = pd.DataFrame(index=frame.index, columns=frame.columns, dtype=object)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if pd.api.types.is_float_dtype(column.dtype) and _whole_numbers(column):
            column = column.astype("Int64")
        plain = pd.Series([None if _missing(value) else _plain(value) for value in column.tolist()],
                          index=frame.index, dtype=object)
        # pandas takes a Series (aligned on the index: the same one here); pandas-stubs types `value` without it.
        cells.isetitem(position, plain)  # type: ignore[arg-type]
    return cells


def _whole_numbers(column: pd.Series) -> bool:
    present = column.dropna()
    return bool(((present % 1) == 0).all()) and bool((present.abs() < 2**53).all())


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _plain(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):  # a NumPy scalar
        value = value.item()
    return value if isinstance(value, _PLAIN_VALUES + (str,)) else str(value)


def _string_cell(sheet, text: str) -> Cell:  # noqa: ANN001 - a write-only worksheet
    # openpyxl turns any text starting with "=" into a formula; a cell typed as string stays text. XML reads a CR as
    # a line feed anyway (Excel and openpyxl alike), so line breaks are written as LF: what is read is what was written.
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    cell = WriteOnlyCell(sheet, _NOT_IN_XLSX.sub("\ufffd", lines))
    cell.data_type = "s"
    if starts_like_formula(text):
        cell.quotePrefix = True
    return cell
