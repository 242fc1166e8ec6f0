using System.Runtime.CompilerServices;
using Iced.Intel;
using TlsScope.Bpf;
using TlsScope.Bpf.Elf;
using TlsScope.Sources.Tls.Probes;
using TlsScope.Sources.Tls.Discovery;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.GnuTls;

/// <summary>What <see cref="KeyLogCall.Find"/> learnt of one libgnutls: the internal function
/// every secret of every handshake goes through, and where the session keeps its client random;
/// or why not.</summary>
public sealed record KeyLogCallResult(ElfFunction? Function, uint RandomOffset, string? Reason);

/// <summary>
/// GnuTLS hands each secret to <c>_gnutls_call_keylog_func(session, label, data, size)</c> during
/// the handshake (TLS 1.2's CLIENT_RANDOM master secret, TLS 1.3's traffic secrets), which calls
/// the session's key log function: the default one (writes SSLKEYLOGFILE when set) or the
/// application's. Probing it gives GnuTLS's own key log lines, with no memory layout and no
/// calibration: whatever GnuTLS would write is what TlsScope writes. The function is internal, so
/// a stripped library is searched: <c>gnutls_session_set_keylog_function</c> stores the function
/// at [session+K]; the one function that loads [rdi+K] and calls through it is the one.
/// The client random's offset is read from <c>gnutls_session_get_random</c> (<c>lea rax, [rdi+R]</c>).
/// </summary>
public static class KeyLogCall
{
    public const string Name = "tlsscope:_gnutls_call_keylog_func";

    /// <summary>Instructions after the load within which the indirect call must come.</summary>
    private const int CallWindow = 24;

    /// <summary>Bytes from the function's entry to the load at most (a prologue).</summary>
    private const ulong PrologueMax = 64;

    private static readonly ConditionalWeakTable<ElfSymbols, KeyLogCallResult> Results = new();

    /// <summary>The library's symbols plus the key log function when found (what was found, or
    /// why not, is kept for <see cref="For"/>).</summary>
    public static ElfSymbols AddTo(string path, ElfSymbols elf)
    {
        if (!elf.HasFunctions("gnutls_record_recv"))
        {
            return elf;
        }

        var result = Find(path, elf);
        var symbols = result.Function is { } fn ? elf.WithFunctions([fn with { Name = Name }]) : elf;
        Results.AddOrUpdate(symbols, result);
        return symbols;
    }

    /// <summary>Tells the kernel where this library's sessions keep their client random (nothing
    /// when the key log function was not found: the library still gives plaintext).</summary>
    public static unsafe void Prepare(TlsLibrary lib, BpfObject obj)
    {
        if (For(lib.Symbols) is { Function: not null } found && lib.Id < KernelKeyLayout.MaxLibraries)
        {
            var id = (uint)lib.Id;
            var offset = found.RandomOffset;
            obj.Update("gnutls_random_offsets", new ReadOnlySpan<byte>(&id, 4), new ReadOnlySpan<byte>(&offset, 4));
        }
    }

    /// <summary>What <see cref="AddTo"/> found for these symbols; null when it never looked.</summary>
    public static KeyLogCallResult? For(ElfSymbols symbols) => Results.TryGetValue(symbols, out var r) ? r : null;

    public static KeyLogCallResult Find(string path, ElfSymbols elf) => MachineCode.Examine(path, image => Find(image, elf), NotFound);

    private static KeyLogCallResult Find(ElfImage image, ElfSymbols elf)
    {
        if (!elf.TryGetFunction("gnutls_session_set_keylog_function", out var setKeylog))
        {
            return NotFound("no gnutls_session_set_keylog_function (GnuTLS before 3.6.13)");
        }

        if (!elf.TryGetFunction("gnutls_session_get_random", out var getRandom))
        {
            return NotFound("no gnutls_session_get_random");
        }

        var store = First(image, setKeylog.Address);
        if (store.Mnemonic != Mnemonic.Mov || store.Op0Kind != OpKind.Memory || store.MemoryBase != Register.RDI
            || store.MemoryIndex != Register.None || store.Op1Register != Register.RSI)
        {
            return NotFound("gnutls_session_set_keylog_function does not start by storing its argument in the session");
        }

        var slot = store.MemoryDisplacement64;
        var random = RandomOffset(image, getRandom);
        if (random is null)
        {
            return NotFound("gnutls_session_get_random does not take the client random's address from the session");
        }

        if (image.FindSection(".text") is not { } text)
        {
            return NotFound("no .text section");
        }

        var entries = new List<ulong>();
        foreach (var load in CallsThrough(image, text, slot, out var callTargets))
        {
            var entry = callTargets.GetViewBetween(load - Math.Min(load, PrologueMax), load);
            if (entry.Count > 0 && StraightLine(image, entry.Max, load))
            {
                entries.Add(entry.Max);
            }
        }

        entries = [.. entries.Distinct()];
        if (entries.Count != 1)
        {
            return NotFound($"{entries.Count} functions call the key log function at [session+0x{slot:x}], not 1");
        }

        return image.TryMapToFile(entries[0], out var offset)
            ? new KeyLogCallResult(new ElfFunction(Name, entries[0], 0, offset), (uint)random, null)
            : NotFound($"0x{entries[0]:x} is not in the file");
    }

    private static KeyLogCallResult NotFound(string reason) => new(null, 0, reason);

    /// <summary><c>lea r, [rdi+R]</c> then <c>mov [rsi], r</c> (client->data = the session's client
    /// random; the server's goes to [rdx]): R, found in the function's first instructions.</summary>
    private static ulong? RandomOffset(ElfImage image, ElfFunction getRandom)
    {
        var code = MachineCode.Decode(image, getRandom.Address, 48);
        for (var at = 0; at < code.Count; at++)
        {
            var lea = code[at];
            if (lea.Mnemonic != Mnemonic.Lea || lea.MemoryBase != Register.RDI || lea.MemoryIndex != Register.None || lea.MemoryDisplacement64 >= 0x10000)
            {
                continue;
            }

            var stored = code.Skip(at + 1).Take(3).Any(i => i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Memory && i.MemoryBase == Register.RSI
                && i.MemoryIndex == Register.None && i.MemoryDisplacement64 == 0 && i.Op1Kind == OpKind.Register && i.Op1Register == lea.Op0Register);
            if (stored)
            {
                return lea.MemoryDisplacement64;
            }
        }

        return null;
    }

    /// <summary>Whether the code from <paramref name="entry"/> reaches <paramref name="load"/> with
    /// no return or jump on the way: the load is in the function that starts there.</summary>
    private static bool StraightLine(ElfImage image, ulong entry, ulong load) =>
        load == entry || MachineCode.Decode(image, entry, (int)(load - entry))
            .All(i => i.FlowControl is FlowControl.Next or FlowControl.Call or FlowControl.ConditionalBranch);

    /// <summary>Every load of [rdi+slot] into a register that an indirect call then goes through;
    /// with every direct call target of the text (the function entries).</summary>
    private static List<ulong> CallsThrough(ElfImage image, ElfSection text, ulong slot, out SortedSet<ulong> callTargets)
    {
        var code = image.ReadSection(text);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), text.Address);
        var end = text.Address + (ulong)code.Length;
        callTargets = [];
        var loads = new List<ulong>();
        (ulong At, Register Register, int Left) pending = default;
        while (decoder.IP < end)
        {
            decoder.Decode(out var i);
            if (i.FlowControl == FlowControl.Call && i.Op0Kind == OpKind.NearBranch64)
            {
                callTargets.Add(i.NearBranchTarget);
            }

            if (pending.Left > 0)
            {
                pending.Left--;
                if (i.FlowControl == FlowControl.IndirectCall && i.Op0Kind == OpKind.Register && i.Op0Register == pending.Register)
                {
                    loads.Add(pending.At);
                    pending = default;
                }
                else if (i.FlowControl is FlowControl.Return or FlowControl.UnconditionalBranch or FlowControl.IndirectBranch)
                {
                    pending = default; // the loaded value is not called on this path
                }
            }

            if (i.Mnemonic == Mnemonic.Mov && i.Op0Kind == OpKind.Register && i.Op0Register.IsGPR64() && i.Op1Kind == OpKind.Memory
                && i.MemoryBase == Register.RDI && i.MemoryIndex == Register.None && i.MemoryDisplacement64 == slot)
            {
                pending = (i.IP, i.Op0Register, CallWindow);
            }
        }

        return loads;
    }

    private static Instruction First(ElfImage image, ulong at) => MachineCode.FirstReal(MachineCode.Decode(image, at, 24));
}
