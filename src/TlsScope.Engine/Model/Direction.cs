namespace TlsScope.Engine.Model;

/// <summary>Whether the process read (received) or wrote (sent) the plaintext.</summary>
public enum Direction
{
    Read = 0,
    Write = 1,
}
