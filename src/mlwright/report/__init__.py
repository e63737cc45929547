"""Reports for people who are not engineers, model cards, and the charts they share.

Example:
    >>> from mlwright.report import write_report, model_card
    >>> write_report(model, "report.html")
    >>> Path("card.md").write_text(model_card(model, sensitive=["gender"]))
"""

from mlwright.report.render import model_card, report_html, write_report

__all__ = ["model_card", "report_html", "write_report"]
