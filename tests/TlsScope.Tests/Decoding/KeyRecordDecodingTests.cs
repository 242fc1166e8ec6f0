using System.Runtime.InteropServices;
using TlsScope.Engine.Model;
using TlsScope.Engine.Kernel;
using TlsScope.Sources.Tls.Decoding;
using TlsScope.Sources.Tls.Events;
using TlsScope.Sources.Tls.Keys.Layout;

namespace TlsScope.Tests.Decoding;

/// <summary>struct tscope_keys as the decoder reads it: slots, read mask, the handshake flag,
/// process and library, and the Unix time.</summary>
public sealed class KeyRecordDecodingTests
{
    private sealed class Keys : IKeyMaterialSink
    {
        public List<KeyMaterial> Seen { get; } = [];
        public List<LoggedSecret> Logged { get; } = [];
        public void OnKeyMaterial(KeyMaterial material) => Seen.Add(material);
        public void OnLoggedSecret(LoggedSecret secret) => Logged.Add(secret);
    }

    private static unsafe byte[] Record(uint flags)
    {
        var k = new KeysRecord
        {
            Head = new EventHead { Kind = EventKind.Keys, Flags = flags, TimeNs = KernelRecords.BaseTimeNs, Task = new KernelTask { Pid = 42, Tid = 43, Uid = 1000 } },
            ConnId = 7,
            Ssl = 0x5555_0000_1000,
            Library = 1,
            ReadMask = 0b101,
        };
        KernelRecords.SetComm(ref k.Head.Task, "curl"u8);
        for (var i = 0; i < KernelKeyLayout.Slots * KernelKeyLayout.SlotSize; i++)
        {
            k.Slots[i] = (byte)(i / KernelKeyLayout.SlotSize + 1); // slot i is filled with i + 1
        }

        return MemoryMarshal.AsBytes(new ReadOnlySpan<KeysRecord>(ref k)).ToArray();
    }

    [Theory]
    [InlineData(0u, false)]
    [InlineData(1u, true)]
    public void KeysRecordBecomesKeyMaterial(uint flags, bool duringHandshake)
    {
        var keys = new Keys();
        var p = new DecodingPipeline();
        var decoder = new EventDecoder(p.Assembler, i => DecodingPipeline.LibraryNames[i], keys);
        decoder.Decode(Record(flags));

        var m = Assert.Single(keys.Seen);
        Assert.Equal(duringHandshake, m.DuringHandshake);
        Assert.Equal((7UL, 0x5555_0000_1000UL, 0b101u, 1u), (m.Connection, m.Ssl, m.ReadMask, m.LibraryIndex));
        Assert.Equal(DecodingPipeline.LibraryNames[1], m.Library);
        Assert.Equal(new ProcessInfo(42, 43, 1000, "curl"), m.Process);
        Assert.Equal(p.Clock.ToUnixNs(KernelRecords.BaseTimeNs), m.TimeUnixNs);
        Assert.Equal(KernelKeyLayout.Slots, m.Slots.Length);
        for (var i = 0; i < m.Slots.Length; i++)
        {
            Assert.All(m.Slots[i], b => Assert.Equal(i + 1, b));
        }

        Assert.Empty(p.Sink.Data); // not a chunk
    }
}
