using TlsScope.Engine.Model;

namespace TlsScope.Sources.Tls.Keys.Decoding;

/// <summary>
/// Gathers the secrets a program logs one at a time (Go's writeKeyLog) into one set per handshake,
/// keyed by client random, in the order they were logged: a TLS 1.2 handshake logs one
/// CLIENT_RANDOM line, a TLS 1.3 one its two handshake secrets and then its two application
/// secrets. A label seen twice for one handshake (both ends traced) is kept once. The caller locks.
/// </summary>
internal sealed class LoggedHandshakes(int capacity)
{
    private const string Tls12 = "CLIENT_RANDOM";
    private const string ClientTraffic = "CLIENT_TRAFFIC_SECRET_0";
    private const string ServerTraffic = "SERVER_TRAFFIC_SECRET_0";

    private readonly Dictionary<string, List<LoggedSecret>> _open = [];
    private readonly Queue<string> _order = new();

    /// <summary>Whether the label is the one a program logs last for a handshake (TLS 1.2's only
    /// line, TLS 1.3's server application secret): seen again, it is the other end's copy of one.</summary>
    public static bool Completes(string label) => label is Tls12 or ServerTraffic;

    /// <summary>Adds a secret; returns its handshake's set when this one completed it.</summary>
    public TlsKeySet? Add(LoggedSecret secret, string random)
    {
        if (!_open.TryGetValue(random, out var lines))
        {
            _open[random] = lines = [];
            _order.Enqueue(random);
            while (_order.Count > capacity)
            {
                _open.Remove(_order.Dequeue());
            }
        }

        if (lines.Any(l => l.Label == secret.Label))
        {
            return null;
        }

        lines.Add(secret);
        var complete = secret.Label == Tls12
            || (lines.Any(l => l.Label == ClientTraffic) && lines.Any(l => l.Label == ServerTraffic));
        if (!complete)
        {
            return null;
        }

        _open.Remove(random);
        var first = lines[0];
        return new TlsKeySet(first.TimeUnixNs, 0, first.Process, first.Library, first.ClientRandom,
            lines.Select(l => $"{l.Label} {random} {Convert.ToHexStringLower(l.Secret)}").ToList());
    }
}
