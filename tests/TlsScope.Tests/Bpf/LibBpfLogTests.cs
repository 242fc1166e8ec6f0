using TlsScope.Bpf;

namespace TlsScope.Tests.Bpf;

public sealed class LibBpfLogTests
{
    // The shape libbpf 1.1 prints when the kernel rejects a program (taken from a real rejection).
    private const string RejectedLoad = """
        libbpf: prog 'tls_return': BPF program load failed: Permission denied
        libbpf: prog 'tls_return': -- BEGIN PROG LOAD LOG --
        ; if (bpf_probe_read_user(s->data, n, (void *)(e->buf + off)) < 0) { @ tls_call.h:156
        394: (bf) r2 = r6                     ; frame1: R2=scalar(id=30) R6=scalar(id=30) cb
        395: (85) call bpf_probe_read_user#112
        R2 min value is negative, either use unsigned or 'var &= const'
        processed 592 insns (limit 1000000) max_states_per_insn 2 total_states 41 peak_states 41 mark_read 0
        -- END PROG LOAD LOG --
        libbpf: prog 'tls_return': failed to load: -13
        """;

    [Fact]
    public void SummaryIsTheVerifiersComplaintNotTheTallyOrAnInstruction() =>
        Assert.Equal("R2 min value is negative, either use unsigned or 'var &= const'",
            LibBpfLog.VerifierSummary([RejectedLoad]));

    [Fact]
    public void NoLoadLogMeansNoSummary() =>
        Assert.Null(LibBpfLog.VerifierSummary(["libbpf: failed to find BTF for extern 'x'"]));
}
