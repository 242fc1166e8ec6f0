namespace TlsScope.Engine.Collections;

/// <summary>
/// A set that remembers only its most recent <c>capacity</c> members, forgetting the oldest
/// first: de-duplication that stays bounded however long a capture runs (key sets are
/// de-duplicated by client random in three places, and a day of handshakes is millions).
/// </summary>
public sealed class RecentSet<T>(int capacity) where T : notnull
{
    private readonly HashSet<T> _members = [];
    private readonly Queue<T> _order = new();

    public int Count => _members.Count;

    /// <summary>Adds <paramref name="item"/>; false when it is already a member.</summary>
    public bool Add(T item)
    {
        if (!_members.Add(item))
        {
            return false;
        }

        _order.Enqueue(item);
        if (_order.Count > capacity)
        {
            _members.Remove(_order.Dequeue());
        }

        return true;
    }

    public bool Contains(T item) => _members.Contains(item);
}
