"""One pass of BPTT(k1, k2): forward, backward over each window, update, as recorded."""
