"""Console tables (Rich): aligned, plain text, cells never read as markup."""

from __future__ import annotations

from vllm_workflow.console import table_lines


def test_table_lines_align_numbers_right_and_keep_brackets() -> None:
    lines = table_lines(["metric", "p50 [ms]", "verdict"], [["TTFT", 12.5, "improvement"], ["TPOT", 1, "[bold]x"]],
                        left=(0, 2))
    assert lines[0].split() == ["metric", "p50", "[ms]", "verdict"]
    assert set(lines[1].strip()) == {"─"}
    assert lines[2].split() == ["TTFT", "12.5", "improvement"] and lines[3].split() == ["TPOT", "1", "[bold]x"]
    # numbers right-aligned: the last digit of both rows in the same column
    assert lines[2].index("12.5") + 4 == lines[3].index(" 1 ") + 2
    assert all(line.startswith("  ") and "\x1b" not in line for line in lines)


def test_wide_tables_are_not_wrapped() -> None:
    long = "x" * 180
    lines = table_lines(["a", "b"], [[long, 1]], indent=0)
    assert any(long in line for line in lines)
