"""Sharing under rules: requests and approvals of conditional sharing (有条件共享)."""
