using System.Buffers.Binary;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Finds a value anywhere within <see cref="KeyPath.MaxDeref"/> pointer loads of a connection
/// object (BoringSSL's handshake state is two away: ssl->s3->hs). Each object is read up to its
/// allocation's end where that is known, and entered once, by its shallowest, lowest path.
/// </summary>
public static class HandshakeSearch
{
    private const int MaxObjects = 20000;

    public static HashSet<KeyPath> Find(IProcessMemory memory, ulong ssl, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var found = new HashSet<KeyPath>();
        var queue = new List<(ulong Address, KeyPath? Pointer)> { (ssl, null) };
        var entered = new HashSet<ulong> { ssl };
        for (var next = 0; next < queue.Count; next++)
        {
            var (address, pointer) = queue[next];
            var data = SecretSearch.ReadBlock(memory, address, pointer == null ? SecretSearch.RootSize : SecretSearch.ChildSize);
            data = data[..Math.Min(data.Length, SecretSearch.AllocationSize(memory, address))];
            for (var start = 0; data.AsSpan(start).IndexOf(value) is >= 0 and var at; start += at + 1)
            {
                found.Add(pointer?.Then((uint)(start + at)) ?? new KeyPath([(uint)(start + at)]));
            }

            if (pointer is { Deref: >= KeyPath.MaxDeref - 1 })
            {
                continue;
            }

            for (var off = 0; off + 8 <= data.Length && queue.Count < MaxObjects; off += 8)
            {
                var p = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(off));
                if (SecretSearch.LooksLikePointer(memory, p) && entered.Add(p))
                {
                    queue.Add((p, pointer?.Then((uint)off) ?? new KeyPath([(uint)off])));
                }
            }
        }
        return found;
    }
}
