using System.Text;
using TlsScope.Protocols.Http1;

namespace TlsScope.Tests.Http1;

/// <summary>Drives an <see cref="Http1StreamParser"/> and records what it reports.</summary>
internal sealed class Http1Run
{
    public Http1Run(Http1Role role, params string[] expectMethods)
    {
        Parser = new Http1StreamParser(role, Messages.Add);
        Parser.ProtocolError += Errors.Add;
        Parser.OpaqueData += d => Opaque.AddRange(d);
        foreach (var m in expectMethods)
        {
            Parser.ExpectResponseTo(m);
        }
    }

    public Http1StreamParser Parser { get; }

    public List<Http1Message> Messages { get; } = new();

    public List<Http1ProtocolError> Errors { get; } = new();

    public List<byte> Opaque { get; } = new();

    public Http1Run Feed(string s) => Feed(Bytes(s));

    public Http1Run Feed(byte[] data)
    {
        Parser.Feed(data);
        return this;
    }

    public Http1Run FeedByteAtATime(byte[] data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            Parser.Feed(data.AsSpan(i, 1));
        }

        return this;
    }

    public Http1Run FeedRandomPieces(byte[] data, Random rng, int maxPiece)
    {
        int pos = 0;
        while (pos < data.Length)
        {
            int n = Math.Min(data.Length - pos, rng.Next(1, maxPiece + 1));
            Parser.Feed(data.AsSpan(pos, n));
            pos += n;
        }

        return this;
    }

    public static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    public static string Text(byte[] b) => Encoding.Latin1.GetString(b);

    public static string Text(ReadOnlyMemory<byte> b) => Encoding.Latin1.GetString(b.Span);

    /// <summary>A stable textual rendering of a message, used to compare runs.</summary>
    public static string Describe(Http1Message m)
    {
        var sb = new StringBuilder();
        sb.Append(m.Role).Append('|').Append(m.Method).Append('|').Append(m.Target).Append('|').Append(m.Version)
            .Append('|').Append(m.StatusCode).Append('|').Append(m.Reason).Append('|').Append(m.RequestMethod)
            .Append("|complete=").Append(m.Complete).Append("|wire=").Append(m.WireBytes)
            .Append("|chunked=").Append(m.Chunked).Append("|up=").Append(m.UpgradedTo)
            .Append("|len=").Append(m.BodyLength).Append("|body=").Append(Convert.ToHexString(m.Body.Span));
        foreach (var (n, v) in m.Headers)
        {
            sb.Append("|h:").Append(n).Append('=').Append(v);
        }

        foreach (var (n, v) in m.Trailers)
        {
            sb.Append("|t:").Append(n).Append('=').Append(v);
        }

        return sb.ToString();
    }
}
