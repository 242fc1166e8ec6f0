using System.Globalization;

namespace TlsScope.Sources.Tls.Keys.Layout;

/// <summary>
/// Where a value lives relative to the connection object: load the pointer at base + offset for
/// each offset but the last, then the value is at base + last offset. A value type so paths
/// compare and hash by content during calibration.
/// </summary>
public readonly record struct KeyPath
{
    public const int MaxDeref = MemPath.Depth;

    private readonly uint _o0, _o1, _o2, _o3;

    /// <summary>Pointer loads before the value is read (0: the value is in the object itself).</summary>
    public int Deref { get; }

    public KeyPath(ReadOnlySpan<uint> offsets)
    {
        if (offsets.Length is 0 or > MaxDeref + 1)
        {
            throw new ArgumentException($"a key path has 1 to {MaxDeref + 1} offsets", nameof(offsets));
        }

        Deref = offsets.Length - 1;
        _o0 = offsets[0];
        _o1 = offsets.Length > 1 ? offsets[1] : 0;
        _o2 = offsets.Length > 2 ? offsets[2] : 0;
        _o3 = offsets.Length > 3 ? offsets[3] : 0;
    }

    public uint this[int i] => (uint)i > (uint)Deref ? throw new ArgumentOutOfRangeException(nameof(i)) : i switch
    {
        0 => _o0,
        1 => _o1,
        2 => _o2,
        _ => _o3,
    };

    public uint[] Offsets()
    {
        var result = new uint[Deref + 1];
        for (var i = 0; i <= Deref; i++)
        {
            result[i] = this[i];
        }

        return result;
    }

    /// <summary>This path's pointer loads followed by <paramref name="offset"/> inside the object
    /// the last value of this path points to (this path's value must be a pointer).</summary>
    public KeyPath Then(uint offset)
    {
        Span<uint> all = stackalloc uint[Deref + 2];
        for (var i = 0; i <= Deref; i++)
        {
            all[i] = this[i];
        }

        all[^1] = offset;
        return new KeyPath(all);
    }

    public unsafe MemPath ToKernel(uint size)
    {
        var path = new MemPath { Deref = (uint)Deref, Size = size };
        for (var i = 0; i <= Deref; i++)
        {
            path.Off[i] = this[i];
        }

        return path;
    }

    /// <summary>"0x18>0x2a8": offsets in hex, '>' for each pointer load.</summary>
    public override string ToString() =>
        string.Join('>', Offsets().Select(o => "0x" + o.ToString("x", CultureInfo.InvariantCulture)));

    public static bool TryParse(string? text, out KeyPath path)
    {
        path = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var parts = text.Split('>');
        if (parts.Length > MaxDeref + 1)
        {
            return false;
        }

        var offsets = new uint[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var p = parts[i].Trim();
            if (!p.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                || !uint.TryParse(p.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out offsets[i]))
            {
                return false;
            }
        }
        path = new KeyPath(offsets);
        return true;
    }

    /// <summary>Shallower first, then by offsets: the order calibration prefers paths in.</summary>
    public static int Compare(KeyPath a, KeyPath b)
    {
        if (a.Deref != b.Deref)
        {
            return a.Deref.CompareTo(b.Deref);
        }

        for (var i = 0; i <= a.Deref; i++)
        {
            if (a[i] != b[i])
            {
                return a[i].CompareTo(b[i]);
            }
        }

        return 0;
    }
}
