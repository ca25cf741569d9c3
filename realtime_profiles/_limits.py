"""Every bound on work and size, in one place (docs/security.md lists them for users).

Each limit fails fast with a located problem: the work done before an error is bounded by the
limit, so hostile input is refused in seconds instead of exhausting memory or time.
"""

from __future__ import annotations

from typing import Final

# -- parsing (layer files and override values) -------------------------------------------
MAX_FILE_BYTES: Final = 1024 * 1024
"""A layer file's size."""
MAX_NODES: Final = 100_000
"""Values in one file or override value after alias expansion (an alias bomb stops here)."""
MAX_DEPTH: Final = 64
"""Nesting of mappings and lists; segments of an override key; presets referring to presets;
interpolations referring to interpolations."""

MAX_CALL_INTEGER: Final = 2**63 - 1
"""A call value's integers lie within +-MAX_CALL_INTEGER (a signed 64-bit integer, as the
API's JSON decoders read them): a larger one is refused before anything converts it to text
(Python refuses to print an integer of more than 4300 digits)."""

# -- resolvers -------------------------------------------------------------------------------
MAX_PROMPT_BYTES: Final = 256 * 1024
"""A `${file:...}` file's size."""

# -- interpolation -------------------------------------------------------------------------
MAX_RESULT_CHARS: Final = 1_000_000
"""One interpolated string."""
MAX_EXPANDED_VALUES: Final = MAX_NODES
"""Values that all references and resolver calls of one resolution may produce together."""
MAX_EXPANDED_CHARS: Final = 10_000_000
"""Characters that all references and resolver calls of one resolution may produce."""
MAX_COPIED_VALUES: Final = MAX_NODES
"""Values copied into refined presets during one fold."""

# -- output (bounded whatever the input) ---------------------------------------------------
SUGGESTION_BUDGET: Final = 200_000
"""Characters that one composition's did-you-mean suggestions may compare in total (about
20 ms of difflib); past it a suggestion is omitted."""
MAX_NAMED_LITERALS: Final = 3
"""Literals named in one secret's problem ("and N more" for the rest)."""
MAX_COUNTED_LITERALS: Final = 100
"""Literals counted per secret; beyond it the count reads "at least"."""
MAX_SHOWN_PROBLEMS: Final = 50
"""Problems printed per combination by the command line and in an error's text ("... and N
more"); `ProfileError.problems` and JSON counts keep them all."""
MAX_SHOWN_PROFILES: Final = 8
"""Combinations named after one problem (`[a@dev, a@prod, ... and N more]`)."""
# -- snapshots -----------------------------------------------------------------------------
MAX_SNAPSHOT_BYTES: Final = 16 * 1024 * 1024
"""A stored wire snapshot (its frames hold instructions and tool schemas)."""

# -- caches (per Loader) ---------------------------------------------------------------------
PROFILE_CACHE_SIZE: Final = 512
"""Composed profiles kept (least recently used dropped)."""
LAYER_CACHE_SIZE: Final = 256
"""Parsed layers kept: validate-all goes agent by agent, so base, env and the agent's own
files are always held while memory stays flat however large the tree."""
PARSE_CACHE_SIZE: Final = 4096
"""Interpolation strings whose parse (grammar tree or fast-path pieces) is memoized."""
