using Iced.Intel;
using TlsScope.Bpf.Elf;

namespace TlsScope.Sources.Sql.Mysql;

/// <summary>
/// Reads where an exported accessor (<c>thd_user_name(THD*)</c>, ...) finds its value, by
/// following its few instructions from the THD in rdi: each load from a known pointer adds a
/// step. Accessors are a handful of moves, null tests and a ret; anything else is refused.
/// </summary>
public static class AccessorReader
{
    private const int MaxBytes = 64;

    /// <summary>What a register holds: the THD after <see cref="Loads"/> (each a load at that
    /// offset from the previous value), plus <see cref="Add"/> not yet loaded.</summary>
    public sealed record Value(IReadOnlyList<uint> Loads, uint Add);

    /// <summary>The returned value of the accessor at <paramref name="fn"/>, or null.</summary>
    public static Value? Returned(ElfImage image, ElfFunction fn)
    {
        var size = (int)Math.Clamp(fn.Size == 0 ? MaxBytes : fn.Size, 1, MaxBytes);
        var bytes = new byte[size];
        return image.TryReadAt(fn.Address, bytes) ? Returned(bytes, fn.Address) : null;
    }

    public static Value? Returned(byte[] code, ulong address)
    {
        var regs = new Dictionary<Register, Value> { [Register.RDI] = new([], 0) };
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), address);
        while (decoder.IP < address + (ulong)code.Length)
        {
            decoder.Decode(out var i);
            switch (i.Mnemonic)
            {
                case Mnemonic.Ret:
                    return regs.GetValueOrDefault(Register.RAX);
                case Mnemonic.Endbr64 or Mnemonic.Nop or Mnemonic.Test or Mnemonic.Cmp or Mnemonic.Push or Mnemonic.Pop:
                    break; // null tests and frames: the value on the non-null path is the one wanted
                case Mnemonic.Je or Mnemonic.Jne:
                    break;
                case Mnemonic.Mov when Is64(i, 0) && i.Op1Kind == OpKind.Memory:
                    Set(regs, i.Op0Register, From(regs, i) is { } m ? new Value([.. m.Loads, (uint)(m.Add + i.MemoryDisplacement64)], 0) : null);
                    break;
                case Mnemonic.Mov when Is64(i, 0) && Is64(i, 1):
                    Set(regs, i.Op0Register, regs.GetValueOrDefault(i.Op1Register));
                    break;
                case Mnemonic.Lea when Is64(i, 0):
                    Set(regs, i.Op0Register, From(regs, i) is { } a ? a with { Add = (uint)(a.Add + i.MemoryDisplacement64) } : null);
                    break;
                default:
                    return null;
            }
        }

        return null;
    }

    private static bool Is64(in Instruction i, int operand) =>
        i.GetOpKind(operand) == OpKind.Register && i.GetOpRegister(operand).IsGPR64();

    /// <summary>The base register's value of a [base+disp] operand; null with an index or an unknown base.</summary>
    private static Value? From(Dictionary<Register, Value> regs, in Instruction i) =>
        i.MemoryIndex == Register.None && i.MemoryDisplacement64 < 0x1_0000_0000 ? regs.GetValueOrDefault(i.MemoryBase) : null;

    private static void Set(Dictionary<Register, Value> regs, Register r, Value? v)
    {
        if (v is null)
        {
            regs.Remove(r);
        }
        else
        {
            regs[r] = v;
        }
    }
}
