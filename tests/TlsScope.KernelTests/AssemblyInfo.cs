// Kernel tests load BPF programs and run TLS peers on loopback: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
