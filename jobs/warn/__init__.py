"""Early warnings (预警): rules evaluated into findings (`rules`), findings merged into warnings with
a lifecycle new → acknowledged → closed (`lifecycle`)."""
