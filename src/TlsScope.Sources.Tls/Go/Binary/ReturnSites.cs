using Iced.Intel;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Tls.Go.Binary;

/// <summary>Why return probes cannot cover every exit of a function.</summary>
public enum ReturnSiteProblem
{
    None,
    /// <summary>No RET instruction at all.</summary>
    NoReturn,
    /// <summary>A direct jump leaves the function (a tail call): that exit has no RET to probe.</summary>
    TailJump,
    /// <summary>Bytes that do not decode as an instruction before the function's end.</summary>
    BadInstruction,
}

/// <summary>The offsets (from the entry) of a function's RET instructions, and what, if anything,
/// makes them incomplete as its exits: <see cref="Problem"/> says it in words, null when complete.</summary>
public sealed record ReturnSitesResult(IReadOnlyList<ulong> Offsets, ReturnSiteProblem Kind, string? Problem)
{
    public bool IsComplete => Kind == ReturnSiteProblem.None;
}

/// <summary>
/// Finds the RET instructions of an x86-64 function, for probing its returns (uretprobes break
/// Go's moved stacks). Decodes linearly from entry to end: Go puts no data in text, and the INT3
/// padding after the last instruction decodes harmlessly. Jumps inside the function (including
/// the stack-check path's CALL runtime.morestack_noctxt; JMP entry) are not exits; indirect jumps
/// are jump tables in Go code and are not followed.
/// </summary>
public static class ReturnSites
{
    public static ReturnSitesResult Find(ReadOnlySpan<byte> code, ulong entry)
    {
        var end = entry + (ulong)code.Length;
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code.ToArray()), entry);
        var offsets = new List<ulong>();
        (ReturnSiteProblem Problem, string Reason)? first = null;
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid || instruction.NextIP > end)
            {
                first ??= (ReturnSiteProblem.BadInstruction, $"no valid instruction at +0x{instruction.IP - entry:x}");
                break;
            }

            if (instruction.FlowControl == FlowControl.Return)
            {
                offsets.Add(instruction.IP - entry);
            }
            else if (instruction.FlowControl is FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch
                && IsDirect(instruction) && (instruction.NearBranchTarget < entry || instruction.NearBranchTarget >= end))
            {
                first ??= (ReturnSiteProblem.TailJump, $"jump at +0x{instruction.IP - entry:x} to 0x{instruction.NearBranchTarget:x}, outside the function");
            }
        }

        if (first is { } problem)
        {
            return new ReturnSitesResult(offsets, problem.Problem, problem.Reason);
        }

        return offsets.Count == 0
            ? new ReturnSitesResult(offsets, ReturnSiteProblem.NoReturn, "no RET instruction")
            : new ReturnSitesResult(offsets, ReturnSiteProblem.None, null);
    }

    /// <summary>Reads the function's bytes from <paramref name="path"/> by its file offset and size.</summary>
    /// <exception cref="ElfFormatException">The function's bytes lie beyond the end of the file.</exception>
    public static ReturnSitesResult Find(string path, ElfFunction function)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (function.Size is 0 or > MaxFunctionSize || function.FileOffset > long.MaxValue)
        {
            throw new ElfFormatException(path, $"{function.Name}: {function.Size} bytes at file offset 0x{function.FileOffset:x}: not a function to decode");
        }

        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var code = new byte[function.Size];
        if (RandomAccess.Read(file, code, (long)function.FileOffset) != code.Length)
        {
            throw new ElfFormatException(path, $"{function.Name}: code beyond the end of the file");
        }
        return Find(code, function.Address);
    }

    /// <summary>Functions are decoded whole; a size past this comes from a damaged or hostile file.</summary>
    public const ulong MaxFunctionSize = 1 << 20;

    private static bool IsDirect(in Instruction instruction) =>
        instruction.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;
}
