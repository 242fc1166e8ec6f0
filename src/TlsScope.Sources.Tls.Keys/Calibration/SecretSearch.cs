using System.Buffers.Binary;
using TlsScope.Sources.Tls.Keys.Layout;
using TlsScope.Sources.Tls.Keys.Decoding;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Finds where a connection object keeps known values: inside the object (depth 0), in every
/// object it points to (depth 1), and further only through the session it points to. Works on
/// any <see cref="IProcessMemory"/>, so the object may live in another process.
/// </summary>
public static class SecretSearch
{
    public const int RootSize = 16384;
    public const int ChildSize = 4096;
    private const int CipherStructSize = 64;

    private sealed record Block(ulong Address, byte[] Data, KeyPath? Pointer)
    {
        /// <summary>The path of the value at <paramref name="offset"/>, or null when it would
        /// need more pointer loads than the kernel follows.</summary>
        public KeyPath? PathAt(int offset) => Pointer switch
        {
            null => new KeyPath([(uint)offset]),
            { Deref: < KeyPath.MaxDeref } p => p.Then((uint)offset),
            _ => null,
        };
    }

    /// <exception cref="CalibrationException">The object itself cannot be read.</exception>
    public static Observation Search(IProcessMemory memory, ulong ssl, KnownSecrets known)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(known);
        var rootData = ReadBlock(memory, ssl, RootSize);
        if (rootData.Length < 256)
        {
            throw new CalibrationException($"cannot read the connection object at 0x{ssl:x}");
        }

        var blocks = Explore(memory, new Block(ssl, rootData, null), known.SessionAddress);
        var objects = blocks.Where(b => b.Pointer is null or { Deref: 0 })
            .Select(b => Describe(memory, b)).ToList();
        var observation = new Observation(known, objects);
        FindValues(observation, blocks);
        FindCipherId(memory, observation, blocks);
        FindHandshakeSecret(observation, blocks);
        return observation;
    }

    private static List<Block> Explore(IProcessMemory memory, Block root, ulong session)
    {
        var blocks = new List<Block> { root };
        var cache = new Dictionary<ulong, byte[]>();
        for (var next = 0; next < blocks.Count; next++)
        {
            var block = blocks[next];
            if (block.Pointer is { Deref: >= KeyPath.MaxDeref - 1 })
            {
                continue;
            }

            for (var off = 0; off + 8 <= block.Data.Length; off += 8)
            {
                var p = Word(block.Data, off);
                // Every pointer of the object itself; deeper, only the way to the session.
                var follow = block.Pointer == null ? LooksLikePointer(memory, p) : p == session && p != 0;
                if (!follow || block.PathAt(off) is not { } path)
                {
                    continue;
                }

                if (!cache.TryGetValue(p, out var data))
                {
                    cache[p] = data = ReadBlock(memory, p, ChildSize);
                }

                if (data.Length >= 8)
                {
                    blocks.Add(new Block(p, data, path));
                }
            }
        }
        return blocks;
    }

    private static void FindValues(Observation o, List<Block> blocks)
    {
        var k = o.Known;
        var version = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(version, k.Version);
        Find(o, blocks, SlotKind.ClientRandom, k.ClientRandom, 1);
        Find(o, blocks, SlotKind.Version, version, 2);
        Find(o, blocks, SlotKind.MasterKey, k.Secret(KnownSecrets.MasterKeyLabel), 1);
        Find(o, blocks, SlotKind.ClientHandshakeTrafficSecret, k.Secret(KnownSecrets.ClientHandshakeLabel), 1);
        Find(o, blocks, SlotKind.ServerHandshakeTrafficSecret, k.Secret(KnownSecrets.ServerHandshakeLabel), 1);
        var clientApp = k.Secret(KnownSecrets.ClientAppLabel);
        var serverApp = k.Secret(KnownSecrets.ServerAppLabel);
        Find(o, blocks, SlotKind.ClientAppSecret, clientApp, 1);
        Find(o, blocks, SlotKind.ServerAppSecret, serverApp, 1);
        Find(o, blocks, SlotKind.WriteAppSecret, k.IsServer ? serverApp : clientApp, 1);
        Find(o, blocks, SlotKind.ReadAppSecret, k.IsServer ? clientApp : serverApp, 1);
        Find(o, blocks, SlotKind.ExporterSecret, k.Secret(KnownSecrets.ExporterLabel), 1);
        Find(o, blocks, SlotKind.HandshakeTrafficHash, k.HandshakeTrafficHash, 1);
    }

    private static void Find(Observation o, List<Block> blocks, SlotKind kind, byte[]? value, int alignment)
    {
        if (value == null)
        {
            return;
        }

        var found = o.For(kind);
        foreach (var block in blocks)
        {
            var data = block.Data.AsSpan();
            for (var start = 0; start + value.Length <= data.Length;)
            {
                var at = data[start..].IndexOf(value);
                if (at < 0)
                {
                    break;
                }

                var offset = start + at;
                if (offset % alignment == 0 && block.PathAt(offset) is { } path)
                {
                    found.Add(path);
                }

                start = offset + 1;
            }
        }
    }

    /// <summary>The id inside the SSL_CIPHER (found by its value), reached through every place
    /// the object graph holds the cipher's address.</summary>
    private static void FindCipherId(IProcessMemory memory, Observation o, List<Block> blocks)
    {
        var k = o.Known;
        if (k.CipherAddress == 0)
        {
            return;
        }

        var found = o.For(SlotKind.CipherId);
        var cipher = ReadBlock(memory, k.CipherAddress, CipherStructSize);
        var idOffsets = new List<uint>();
        for (var off = 0; off + 4 <= cipher.Length; off += 4)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(cipher.AsSpan(off)) == k.CipherId)
            {
                idOffsets.Add((uint)off);
            }
        }

        foreach (var block in blocks)
        {
            for (var off = 0; off + 8 <= block.Data.Length; off += 8)
            {
                if (Word(block.Data, off) == k.CipherAddress && block.PathAt(off) is { Deref: < KeyPath.MaxDeref } pointer)
                {
                    foreach (var id in idOffsets)
                    {
                        found.Add(pointer.Then(id));
                    }
                }
            }
        }
    }

    /// <summary>OpenSSL keeps the handshake secret, not the handshake traffic secrets: try each
    /// aligned candidate in the blocks holding the transcript hash against the known CHTS.</summary>
    private static void FindHandshakeSecret(Observation o, List<Block> blocks)
    {
        var k = o.Known;
        var clientHs = k.Secret(KnownSecrets.ClientHandshakeLabel);
        if (k.HandshakeTrafficHash is not { } hash || clientHs == null)
        {
            return;
        }

        var found = o.For(SlotKind.HandshakeSecret);
        var algorithm = CipherSuites.Hash(k.CipherId);
        var length = clientHs.Length;
        Span<byte> derived = stackalloc byte[length];
        foreach (var block in blocks)
        {
            if (block.Data.AsSpan().IndexOf(hash) < 0)
            {
                continue;
            }
            // 4-aligned: OpenSSL's secret arrays follow ints, not pointers.
            for (var off = 0; off + length <= block.Data.Length; off += 4)
            {
                var candidate = block.Data.AsSpan(off, length);
                if (candidate.IndexOfAnyExcept((byte)0) < 0)
                {
                    continue;
                }

                TlsKdf.ExpandLabel(algorithm, candidate, "c hs traffic", hash, derived);
                if (derived.SequenceEqual(clientHs) && block.PathAt(off) is { } path)
                {
                    found.Add(path);
                }
            }
        }
    }

    /// <summary>A block cut to its allocation (so neighbours' bytes do not pose as fields), with
    /// the words that look like pointers marked.</summary>
    private static ObjectBytes Describe(IProcessMemory memory, Block block)
    {
        var data = block.Data[..Math.Min(block.Data.Length, AllocationSize(memory, block.Address))];
        var pointerWords = new bool[(data.Length + 7) / 8];
        for (var i = 0; i + 8 <= data.Length; i += 8)
        {
            // Any readable address, aligned or not (code pointers need not be).
            var word = Word(data, i);
            pointerWords[i / 8] = word >= 0x10000 && memory.IsReadable(word);
        }
        return new ObjectBytes(block.Pointer, data, pointerWords);
    }

    /// <summary>The usable size of a heap object from the word before it: glibc's chunk size
    /// (flag bits set) or BoringSSL's exact size prefix; unknown: int.MaxValue.</summary>
    internal static int AllocationSize(IProcessMemory memory, ulong address)
    {
        Span<byte> header = stackalloc byte[8];
        if (address < 8 || memory.Read(address - 8, header) != 8)
        {
            return int.MaxValue;
        }

        var word = BinaryPrimitives.ReadUInt64LittleEndian(header);
        var size = (word & 0xf) == 1 ? (long)(word & ~0xfUL) - 8 : (long)word;
        return size is >= 16 and <= 1 << 20 ? (int)size : int.MaxValue;
    }

    internal static byte[] ReadBlock(IProcessMemory memory, ulong address, int size)
    {
        var data = new byte[size];
        return data[..memory.Read(address, data)];
    }

    private static ulong Word(byte[] data, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(offset));

    internal static bool LooksLikePointer(IProcessMemory memory, ulong value) =>
        value >= 0x10000 && value < 0x8000_0000_0000 && value % 8 == 0 && memory.IsReadable(value);
}
