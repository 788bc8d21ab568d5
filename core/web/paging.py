"""A page of rows for the ``pager`` macro, when the rows are tuples rather than entities."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Page:
    page: int
    per_page: int
    total: int
    items: list = field(default_factory=list)
    #: False when ``total`` is a cap ("more than 10,000"): the last page is then unknown, and
    #: a full page has a next one.
    exact: bool = True

    @property
    def pages(self) -> int:
        if not self.exact:
            return max(
                self.page + (len(self.items) == self.per_page), -(-self.total // self.per_page)
            )
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        if not self.exact:
            return len(self.items) == self.per_page
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_number(args, total: int, per_page: int) -> int:
    """The requested page, kept within 1 … last page."""
    wanted = args.get("page", 1, type=int) or 1
    last = max(1, -(-total // per_page))
    return min(max(1, wanted), last)
