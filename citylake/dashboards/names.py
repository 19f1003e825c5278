"""The names people read in place of codes: departments and resources from the resource catalog,
in Chinese with English."""

from __future__ import annotations

import pandas as pd

from citylake.catalog import Catalog


def bilingual(chinese: str, english: str | None) -> str:
    """`中文 English`, or the Chinese alone where there is no English."""
    return f"{chinese} {english}" if english else chinese


def department_names(catalog: Catalog) -> dict[str, str]:
    """Department code -> its name, e.g. `hrss` -> `人力资源和社会保障局 Human Resources and Social Security Bureau`."""
    return {code: bilingual(entry.department.name, entry.department.name_en)
            for code, entry in catalog.departments.items()}


def resource_names(catalog: Catalog) -> dict[tuple[str, str], str]:
    """(department, resource) -> the resource's name, e.g. `参保 Social insurance enrolment`."""
    return {(resource.department, resource.code): bilingual(resource.name, resource.name_en) for resource in catalog}


def with_names(frame: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """The frame with `department_name` (from `department`) and, where it has `resource`,
    `resource_name`; a code the catalog does not know is shown as it is."""
    named = frame.copy()
    departments = department_names(catalog)
    named["department_name"] = [departments.get(code, code) for code in named["department"]]
    if "resource" in named:
        resources = resource_names(catalog)
        named["resource_name"] = [resources.get((department, code), f"{department}.{code}")
                                  for department, code in zip(named["department"], named["resource"])]
    return named
