"""Long work (imports, large exports, report builds) as jobs with progress."""
