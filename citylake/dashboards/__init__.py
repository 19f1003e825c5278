"""What the dashboard notebooks call: their parameters (`scope`), the names people read for codes
(`names`), each dashboard's SQL and frame shaping (`quality`, ...), and the index page that links
the built dashboards (`index`). Notebooks only draw what these return."""
