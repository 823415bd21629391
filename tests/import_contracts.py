"""An import-linter contract type that the built-in ones cannot express: an allow-list.

``forbidden`` contracts are deny-lists: a package nobody thought of listing passes them. The
domain's rule is the opposite ("the standard library and nothing else"), so this contract names
what a package may import and reports everything else. ``pyproject.toml`` registers it under
``contract_types``; ``lint-imports`` finds it because it puts its working directory (the
repository root) on the import path.
"""

from __future__ import annotations

import sys
from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class StandardLibraryOnlyContract(Contract):
    """Each listed package imports only the standard library and its own modules.

    Only direct imports need checking: the standard library imports nothing of ours, and any
    other module a package could reach something through is itself a forbidden direct import.
    """

    type_name = "standard_library_only"

    packages = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        offences: list[dict[str, Any]] = []
        for package in self.packages:  # type: ignore[attr-defined]
            own = {package.name} | graph.find_descendants(package.name)
            for importer in sorted(own):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if imported in own or imported.split(".")[0] in sys.stdlib_module_names:
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    offences.append(
                        {
                            "importer": importer,
                            "imported": imported,
                            "lines": sorted(detail["line_number"] for detail in details),
                        }
                    )
        return ContractCheck(kept=not offences, metadata={"offences": offences})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for offence in check.metadata["offences"]:
            lines = ", ".join(f"l.{number}" for number in offence["lines"])
            output.print_error(
                f"{offence['importer']} -> {offence['imported']} ({lines}): "
                "neither the standard library nor its own package",
                bold=False,
            )
            output.new_line()
