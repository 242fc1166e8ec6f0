namespace TlsScope.Engine.Collections;

/// <summary>
/// A set that remembers only its most recent <c>capacity</c> members, forgetting the oldest
/// first: de-duplication that stays bounded however long a capture runs (key sets are
/// de-duplicated by client random in three places, and a day of handshakes is millions).
/// </summary>
public sealed class RecentSet<T>(int capacity) where T : notnull
{
    private readonly HashSet<T> members = [];
    private readonly Queue<T> order = new();

    public int Count => members.Count;

    /// <summary>Adds <paramref name="item"/>; false when it is already a member.</summary>
    public bool Add(T item)
    {
        if (!members.Add(item))
            return false;
        order.Enqueue(item);
        if (order.Count > capacity)
            members.Remove(order.Dequeue());
        return true;
    }

    public bool Contains(T item) => members.Contains(item);
}
