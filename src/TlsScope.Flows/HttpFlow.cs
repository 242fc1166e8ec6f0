using System.Net;
using TlsScope.Engine.Model;

namespace TlsScope.Flows;

/// <summary>Which end of the connection the traced process is.</summary>
public enum FlowSide
{
    /// <summary>The process sends the requests.</summary>
    Client,

    /// <summary>The process receives the requests.</summary>
    Server,
}

/// <summary>
/// One traced connection carrying HTTP: what every HTTP event of it shares. The address and fd are
/// those of the latest chunk (a memory-BIO connection learns its address after its first send).
/// </summary>
public sealed class HttpFlow
{
    public required ulong Connection { get; init; }

    public required FlowSide Side { get; init; }

    public required string Library { get; init; }

    public required int Fd { get; set; }

    public required ConnectionAddress Address { get; set; }

    /// <summary>The process of the latest chunk.</summary>
    public required ProcessInfo Process { get; set; }

    /// <summary>The server's end: the remote address for a client, the local one for a server; null when unknown.</summary>
    public IPEndPoint? Server => Side == FlowSide.Client ? Address.Remote : Address.Local;

    /// <summary>"client" or "server", as the outputs write <see cref="Side"/>.</summary>
    public string SideName => Side == FlowSide.Client ? "client" : "server";
}
