using TlsScope.Engine.Model;
using TlsScope.Sources.Tls.Keys.Decoding;

namespace TlsScope.Tests.Decoding;

/// <summary>Go's writeKeyLog secrets, one at a time, into one key set per handshake.</summary>
public sealed class LoggedSecretTests
{
    private sealed class Sink : IKeySink
    {
        public List<TlsKeySet> Sets { get; } = [];
        public void OnKeys(TlsKeySet keys) => Sets.Add(keys);
    }

    private static readonly byte[] Random = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly string RandomHex = Convert.ToHexStringLower(Random);

    private static LoggedSecret Secret(string label, byte fill, int pid = 7, byte[]? random = null) =>
        new(1000, new ProcessInfo(pid, pid, 0, "gopeer"), "gopeer", label, random ?? Random, Enumerable.Repeat(fill, 32).ToArray());

    private static readonly string[] Tls13 =
        ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"];

    [Fact]
    public void ATls13HandshakeIsOneSetInTheOrderGoLoggedIt()
    {
        var sink = new Sink();
        var keys = new KeyExtractor(sink);
        for (var i = 0; i < Tls13.Length; i++)
        {
            Assert.Empty(sink.Sets); // nothing goes out before the application secrets
            keys.OnLoggedSecret(Secret(Tls13[i], (byte)(0xa0 + i)));
        }

        var set = Assert.Single(sink.Sets);
        Assert.Equal(Tls13.Select((l, i) => $"{l} {RandomHex} {Convert.ToHexStringLower(Enumerable.Repeat((byte)(0xa0 + i), 32).ToArray())}"),
            set.Lines);
        Assert.Equal(Random, set.ClientRandom);
        Assert.Equal(1, keys.Sets);
    }

    [Fact]
    public void BothEndsOfOneHandshakeGiveOneSetAndOneDuplicate()
    {
        var sink = new Sink();
        var keys = new KeyExtractor(sink);
        foreach (var label in Tls13)
        {
            keys.OnLoggedSecret(Secret(label, 1, pid: 7));
            keys.OnLoggedSecret(Secret(label, 1, pid: 8));
        }

        Assert.Equal(4, Assert.Single(sink.Sets).Lines.Count);
        Assert.Equal((1, 1), (keys.Sets, keys.Duplicates));
    }

    [Fact]
    public void ATls12HandshakeIsItsOneLine()
    {
        var sink = new Sink();
        var keys = new KeyExtractor(sink);
        keys.OnLoggedSecret(Secret("CLIENT_RANDOM", 0x11) with { Secret = Enumerable.Repeat((byte)0x11, 48).ToArray() });
        Assert.Equal($"CLIENT_RANDOM {RandomHex} {new string('1', 96)}", Assert.Single(Assert.Single(sink.Sets).Lines));
    }

    [Theory]
    [InlineData("CLIENT_RANDOM\nCLIENT_RANDOM")]
    [InlineData("CLIENT RANDOM")]
    [InlineData("client_random")]
    [InlineData("")]
    public void ALabelThatCouldWriteLinesOfItsOwnIsRefused(string label)
    {
        var sink = new Sink();
        var keys = new KeyExtractor(sink);
        keys.OnLoggedSecret(Secret(label, 1));
        Assert.Empty(sink.Sets);
        Assert.Equal(1, keys.Incomplete);
    }

    [Fact]
    public void AClientRandomThatWasNotReadWholeIsRefused()
    {
        var sink = new Sink();
        var keys = new KeyExtractor(sink);
        keys.OnLoggedSecret(Secret("CLIENT_RANDOM", 1, random: new byte[16]));
        Assert.Empty(sink.Sets);
        Assert.Equal(1, keys.Incomplete);
    }
}
