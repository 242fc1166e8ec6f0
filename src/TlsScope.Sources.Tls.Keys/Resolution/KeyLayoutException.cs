namespace TlsScope.Sources.Tls.Keys.Resolution;

/// <summary>No key layout for a library; the message is one line for the user.</summary>
public sealed class KeyLayoutException(string message) : Exception(message);
