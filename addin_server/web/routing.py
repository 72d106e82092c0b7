"""URL converters of every route (ids bounded to what the databases hold, text without NUL),
and the request class (a body without Content-Length is held to the size limit too).

`<int:...>` in any route is `IdConverter`: an id past 2^31 - 1 (PostgreSQL's INTEGER; SQLite
would overflow at 2^63) names no row on either database, so it is answered 404 naming the
path parameter before any query runs. Path text (`<email>`, `<domain>`) with a NUL or an
unpaired surrogate is answered the same way: PostgreSQL cannot even compare it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Request
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, IntegerConverter, Map, Rule, UnicodeConverter

from addin_server.validation import MAX_ID, unstorable


class PathValueNotFound(NotFound):
    """A path value no row can have; `field` names the path parameter."""

    def __init__(self, field: str) -> None:
        super().__init__("not found")
        self.field = field


class IdConverter(IntegerConverter):
    """A row id: 1..MAX_ID (digits only, no sign)."""

    regex = r"\d+"
    field = "id"

    def to_python(self, value: str) -> Any:
        # The length first: int() of thousands of digits is refused (and slow).
        if len(value) > 10 or not 1 <= int(value) <= MAX_ID:
            raise PathValueNotFound(self.field)
        return int(value)


class TextConverter(UnicodeConverter):
    """A path segment of text, refusing what the databases cannot store."""

    field = ""

    def to_python(self, value: str) -> Any:
        if unstorable(value):
            raise PathValueNotFound(self.field)
        return value


class NamedRule(Rule):
    """A rule whose converters know the name of the parameter they read, so that a value out
    of range is reported against it (`campaign_id`)."""

    def get_converter(self, variable_name: str, converter_name: str, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> BaseConverter:
        converter = super().get_converter(variable_name, converter_name, args, kwargs)
        if isinstance(converter, (IdConverter, TextConverter)):
            converter.field = variable_name
        return converter


def install(url_map: Map) -> None:
    """Make every route's `<int:...>` an id and every plain segment checked text. Call before
    any blueprint is registered."""
    url_map.converters["int"] = IdConverter
    url_map.converters["default"] = TextConverter
    url_map.converters["string"] = TextConverter


class BoundedRequest(Request):
    """A request whose body is refused 413 past MAX_CONTENT_LENGTH however it is sent.

    With Content-Length, Werkzeug refuses a body over the limit. A chunked body has none:
    Werkzeug then reads up to the limit and silently stops, so the view saw a truncated body
    (answered 400 "not valid JSON"). A body that fills the limit is taken as over it.
    """

    def get_data(self, cache: bool = True, as_text: bool = False,
                 parse_form_data: bool = False) -> Any:
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if self.content_length is None and limit is not None and len(data) >= limit:
            raise RequestEntityTooLarge()
        return data.decode("utf-8", "replace") if as_text else data
