namespace TlsScope.Flows;

/// <summary>
/// A connection's last request URL, handed out again while the host and target strings are the
/// same objects (the HTTP/1 parser reuses a connection's repeated strings): a keep-alive client
/// asking for the same path again gets the same URL string, not a new concatenation, and the
/// outputs' caches recognise it.
/// </summary>
internal sealed class UrlMemo
{
    private string? _host;
    private string? _target;
    private string? _url;

    /// <summary>"https://" + host + target (a '/' put in front of a target without one).</summary>
    public string Https(string host, string target)
    {
        if (_url is not null && ReferenceEquals(host, _host) && ReferenceEquals(target, _target))
        {
            return _url;
        }

        _host = host;
        _target = target;
        _url = "https://" + host + (target.StartsWith('/') ? target : "/" + target);
        return _url;
    }
}
