"""An AsyncAPI document as the files and pages it is published as."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from faststream.specification.asyncapi.site import get_asyncapi_html


class _Dumper(yaml.SafeDumper):
    """Multi-line text (descriptions in Markdown) as literal blocks, readable in a diff."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


@dataclass(frozen=True)
class AsyncAPIDocument:
    """A finished document; FastStream's page renderer reads it like its own Specification."""

    content: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.content["info"]["title"])

    def to_jsonable(self) -> dict[str, Any]:
        return self.content

    def to_json(self) -> str:
        return json.dumps(self.content, ensure_ascii=False)

    def to_yaml(self) -> str:
        """The committed form: keys in generation order (info first), wide lines."""

        return yaml.dump(self.content, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    def to_html(self) -> str:
        # No "try it" plugin: it would offer to publish to the broker from the page.
        return get_asyncapi_html(self, try_it_out_path=None)
