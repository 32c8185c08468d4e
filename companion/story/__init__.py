"""Story material for creators, with the elder's consent (see `build` for the steps)."""

from companion.story.build import Filters, build, combine
from companion.story.render import FORMATS, MEDIA_TYPES, book, fountain, markdown, render, shot_list
from companion.story.scenes import STYLES
from companion.story.schema import VERSION, StoryExport, schema

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "STYLES",
    "VERSION",
    "Filters",
    "StoryExport",
    "book",
    "build",
    "combine",
    "fountain",
    "markdown",
    "render",
    "schema",
    "shot_list",
]
