using System.Runtime.CompilerServices;
using Iced.Intel;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Probes;

namespace TlsScope.Sources.Tls.OpenSsl;

/// <summary>What <see cref="InternalPath.Find"/> learnt of one library: the two internal functions
/// (null when not found, <see cref="Reason"/> saying why) and whether the write takes a flags
/// argument before its byte count (OpenSSL 3.3+).</summary>
public sealed record InternalPathResult(ElfFunction? Read, ElfFunction? Write, bool WriteHasFlags, string? Reason)
{
    public bool Found => Read is not null && Write is not null;
}

/// <summary>
/// OpenSSL's internal read and write (<c>ssl_read_internal</c>, <c>ssl_write_internal</c>), which
/// every plaintext read and write goes through: the four exported functions and the SSL BIO's
/// methods (<c>BIO_f_ssl</c>, e.g. <c>openssl s_server -WWW</c>), which never call the exported ones.
/// Stripped libraries have no symbol for them, so they are found by disassembly: the first direct
/// call of <c>SSL_read_ex</c> (<c>SSL_write_ex2</c> on 3.3+, else <c>SSL_write_ex</c>) into the
/// library's own .text, accepted only when <c>SSL_read</c>/<c>SSL_write</c> and the SSL BIO's read/
/// write call the same function and the caller hands it the byte-count pointer where the version's
/// signature puts it. BoringSSL (no <c>SSL_read_ex</c>, its <c>SSL_read</c> calls another kind of
/// function) and anything that fails a check keep the exported functions.
/// </summary>
public static class InternalPath
{
    /// <summary>Names given to the found functions; a prefix no real symbol has (an unstripped
    /// libssl has its own <c>ssl_write_internal</c>, of either signature).</summary>
    public const string Read = "tlsscope:ssl_read_internal";
    /// <summary>int ssl_write_internal(SSL *s, const void *buf, size_t num, size_t *written): 1.1.1 to 3.2.</summary>
    public const string Write = "tlsscope:ssl_write_internal";
    /// <summary>int ssl_write_internal(SSL *s, const void *buf, size_t num, uint64_t flags, size_t *written): 3.3+.</summary>
    public const string WriteWithFlags = "tlsscope:ssl_write_internal+flags";

    /// <summary>Bytes of a function decoded at most: these are small wrappers; a larger symbol
    /// size comes from a damaged file.</summary>
    private const int MaxDecoded = 4096;

    /// <summary>Bytes of an SSL BIO method decoded when its size is unknown (no symbol).</summary>
    private const int MethodWindow = 512;

    /// <summary>Offsets of bwrite and bread in struct bio_method_st (type, name, bwrite,
    /// bwrite_old, bread): the same from 1.1.1 to master.</summary>
    private const int BioWriteSlot = 16, BioReadSlot = 32;

    private static readonly ConditionalWeakTable<ElfSymbols, InternalPathResult> Results = new();

    /// <summary>The family's function reader: the library's symbols plus the internal functions
    /// when found. What was found, or why not, is kept for <see cref="Describe"/>.</summary>
    public static ElfSymbols AddTo(string path, ElfSymbols elf)
    {
        if (!elf.HasFunctions("SSL_read", "SSL_write"))
        {
            return elf; // not OpenSSL's kind at all: not worth a look
        }

        var result = Find(path, elf);
        var symbols = result.Found
            ? elf.WithFunctions([result.Read!.Value with { Name = Read }, result.Write!.Value with { Name = result.WriteHasFlags ? WriteWithFlags : Write }])
            : elf;
        Results.AddOrUpdate(symbols, result);
        return symbols;
    }

    /// <summary>How a library's reads and writes are probed, for -v.</summary>
    public static string? Describe(ElfSymbols symbols) =>
        Results.TryGetValue(symbols, out var r)
            ? r.Found
                ? $"internal read/write at 0x{r.Read!.Value.Address:x}/0x{r.Write!.Value.Address:x}{(r.WriteHasFlags ? ", write with flags" : "")}"
                : $"exported functions only: {r.Reason}"
            : null;

    /// <summary>Looks for the two functions; never throws for a damaged file (that is a reason).</summary>
    public static InternalPathResult Find(string path, ElfSymbols elf) => MachineCode.Examine(path, image => Find(image, elf), NotFound);

    private static InternalPathResult Find(ElfImage image, ElfSymbols elf)
    {
        if (!elf.TryGetFunction("SSL_read_ex", out var readEx) || !elf.TryGetFunction("SSL_write_ex", out var writeEx))
        {
            return NotFound("no SSL_read_ex/SSL_write_ex (BoringSSL, or OpenSSL before 1.1.1)");
        }

        if (!elf.TryGetFunction("BIO_f_ssl", out var bioFSsl))
        {
            return NotFound("no BIO_f_ssl to check the candidates against");
        }

        if (image.FindSection(".text") is not { } text)
        {
            return NotFound("no .text section");
        }

        var code = new Code(image, elf, text);
        var withFlags = elf.TryGetFunction("SSL_write_ex2", out var writeEx2);
        if (code.FirstLocalCall(readEx) is not { } read)
        {
            return NotFound("SSL_read_ex calls no function of the library");
        }

        if (code.FirstLocalCall(withFlags ? writeEx2 : writeEx) is not { } write)
        {
            return NotFound($"{(withFlags ? "SSL_write_ex2" : "SSL_write_ex")} calls no function of the library");
        }

        if (read == write)
        {
            return NotFound($"reads and writes call the same function 0x{read:x}");
        }

        elf.TryGetFunction("SSL_read", out var sslRead);
        elf.TryGetFunction("SSL_write", out var sslWrite);
        if (code.ByteCountRegister(sslRead, read) != Register.RCX)
        {
            return NotFound($"SSL_read does not hand 0x{read:x} a byte-count pointer as its 4th argument");
        }

        var expected = withFlags ? Register.R8 : Register.RCX;
        if (code.ByteCountRegister(sslWrite, write) != expected)
        {
            return NotFound($"SSL_write does not hand 0x{write:x} a byte-count pointer as its {(withFlags ? "5th" : "4th")} argument");
        }

        if (code.SslBioMethod(bioFSsl) is not { } method)
        {
            return NotFound("BIO_f_ssl's method table not found");
        }

        if (!code.Calls(method.Read, read) || !code.Calls(method.Write, write))
        {
            return NotFound($"the SSL BIO's read/write (0x{method.Read:x}/0x{method.Write:x}) do not call 0x{read:x}/0x{write:x}");
        }

        return new InternalPathResult(code.Function(read), code.Function(write), withFlags, null);
    }

    private static InternalPathResult NotFound(string reason) => new(null, null, false, reason);

    /// <summary>The library's code, decoded a function at a time.</summary>
    private sealed class Code(ElfImage image, ElfSymbols elf, ElfSection text)
    {
        // Function starts, sorted: only the SSL BIO check needs them, and a static binary has many
        // (node: 85 k, ~50 ms to sort), so only then.
        private ulong[]? _starts;

        private ulong[] Starts => _starts ??= [.. elf.Functions.Select(f => f.Address).Where(a => a != 0).Order()];

        private bool InText(ulong address) => text.Contains(address);

        public ElfFunction Function(ulong address) =>
            image.TryMapToFile(address, out var offset)
                ? new ElfFunction("", address, 0, offset)
                : throw new ElfFormatException(image.Path, $"0x{address:x} is not in the file");

        /// <summary>The target of the first direct call (or tail jump) into the library's own text,
        /// not its PLT, from the function's entry.</summary>
        public ulong? FirstLocalCall(ElfFunction fn)
        {
            foreach (var i in MachineCode.Decode(image, fn.Address, Size(fn)))
            {
                if (IsCallOrTailJump(i, fn.Address, Size(fn)) && InText(i.NearBranchTarget))
                {
                    return i.NearBranchTarget;
                }
            }

            return null;
        }

        /// <summary>Whether the code at <paramref name="at"/> calls (or jumps to) <paramref name="target"/>.</summary>
        public bool Calls(ulong at, ulong target) =>
            MachineCode.Decode(image, at, WindowAt(at)).Any(i => IsDirect(i) && i.FlowControl is FlowControl.Call or FlowControl.UnconditionalBranch && i.NearBranchTarget == target);

        /// <summary>Which of RCX/R8 holds an address on the caller's stack (the out pointer) at the
        /// first call of <paramref name="callee"/>; None when neither or both.</summary>
        public Register ByteCountRegister(ElfFunction caller, ulong callee)
        {
            var onStack = new Dictionary<Register, bool> { [Register.RCX] = false, [Register.R8] = false };
            var info = new InstructionInfoFactory();
            foreach (var i in MachineCode.Decode(image, caller.Address, Size(caller)))
            {
                if (i.FlowControl == FlowControl.Call && IsDirect(i) && i.NearBranchTarget == callee)
                {
                    return onStack[Register.RCX] == onStack[Register.R8] ? Register.None
                        : onStack[Register.RCX] ? Register.RCX : Register.R8;
                }

                if (i.FlowControl == FlowControl.Call)
                {
                    onStack[Register.RCX] = onStack[Register.R8] = false; // clobbered
                    continue;
                }

                foreach (var used in info.GetInfo(i).GetUsedRegisters())
                {
                    var full = used.Register.GetFullRegister();
                    if (onStack.ContainsKey(full) && used.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite)
                    {
                        onStack[full] = IsStackAddress(i);
                    }
                }
            }

            return Register.None;
        }

        /// <summary>The SSL BIO's read and write functions: BIO_f_ssl returns its method table
        /// (<c>lea rax, [rip+table]; ret</c>), whose pointers the loader relocates.</summary>
        public (ulong Read, ulong Write)? SslBioMethod(ElfFunction bioFSsl)
        {
            var first = MachineCode.FirstReal(MachineCode.Decode(image, bioFSsl.Address, Size(bioFSsl)));
            if (first.Mnemonic != Mnemonic.Lea || first.Op0Register != Register.RAX || !first.IsIPRelativeMemoryOperand)
            {
                return null;
            }

            var table = first.IPRelativeMemoryAddress;
            return image.TryReadPointer(table + BioReadSlot, out var read) && image.TryReadPointer(table + BioWriteSlot, out var write)
                && InText(read) && InText(write)
                ? (read, write)
                : null;
        }

        private static bool IsStackAddress(in Instruction i) =>
            (i.Mnemonic == Mnemonic.Mov && i.Op1Kind == OpKind.Register && i.Op1Register == Register.RSP)
            || (i.Mnemonic == Mnemonic.Lea && i.MemoryBase is Register.RSP or Register.RBP);

        private static bool IsCallOrTailJump(in Instruction i, ulong start, int size) =>
            IsDirect(i) && (i.FlowControl == FlowControl.Call
                || (i.FlowControl == FlowControl.UnconditionalBranch && (i.NearBranchTarget < start || i.NearBranchTarget >= start + (ulong)size)));

        private static bool IsDirect(in Instruction i) =>
            i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;

        private static int Size(ElfFunction fn) => fn.Size is > 0 and <= MaxDecoded ? (int)fn.Size : MethodWindow;

        /// <summary>Up to the next known function start, at most <see cref="MethodWindow"/> bytes.</summary>
        private int WindowAt(ulong at)
        {
            var starts = Starts;
            var next = Array.BinarySearch(starts, at + 1);
            next = next < 0 ? ~next : next;
            return next < starts.Length ? (int)Math.Min(MethodWindow, starts[next] - at) : MethodWindow;
        }
    }
}
