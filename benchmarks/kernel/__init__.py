"""async-kernel against ipykernel: latency, throughput, responsiveness and memory."""
