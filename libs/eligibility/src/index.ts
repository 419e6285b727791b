// Which pools can serve a NIC: the one decision the webhook and the allocator's planner share.
export {};
