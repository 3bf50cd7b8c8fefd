"""What sqlfluff's jinja templater needs to render the models without dbt.

`.sqlfluff` points `library_path` here: the attributes of this package become
names in the template context (`adapter`, `target`, `model`, and the `dbt`
module of cross-database macros). The project's own macros are loaded from
`dbt_project/macros` as they are, and `adapter.dispatch` resolves them the
way dbt does on DuckDB (`duckdb__<name>`, else `default__<name>`), so lint
sees the SQL that dbt runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


class _Target:
    type = "duckdb"
    name = "duckdb"
    schema = "main"
    database = "warehouse"


class _Model:
    """The node being rendered, as a model's Jinja reads it (`model.columns`)."""

    resource_type = "model"
    columns: dict[str, Any] = {}
    #: Lint renders a full build: the project's is_incremental() answers false.
    config: dict[str, Any] = {"materialized": "table"}


class _Adapter:
    @pass_context
    def dispatch(
        self, context: Context, macro_name: str, macro_namespace: str | None = None
    ) -> Any:
        for prefix in (f"{target.type}__", "default__"):
            macro = context.get(prefix + macro_name)
            if macro is not None:
                return macro
        raise KeyError(f"no {target.type}__ or default__ implementation of {macro_name!r}")


class _Source:
    """A source relation as builtins.source returns it (the project's `source()`
    macro wraps dbt's): rendered as sqlfluff's own dbt emulation renders sources."""

    def __init__(self, source_name: str, table_name: str):
        self.schema, self.identifier = source_name, table_name

    def __str__(self) -> str:
        return f"{self.schema}_{self.identifier}"


class _Builtins:
    @staticmethod
    def source(source_name: str, table_name: str) -> _Source:
        return _Source(source_name, table_name)

    @staticmethod
    def ref(*names: str) -> str:
        return names[-1]


builtins = _Builtins()
target = _Target()
adapter = _Adapter()
model = _Model()
#: dbt's start of the invocation (the run_marker macro formats it).
run_started_at = datetime(2026, 1, 1, tzinfo=UTC)
