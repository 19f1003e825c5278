"""Table maintenance: compaction, deletion vectors purged, old files vacuumed; never a row changed."""
