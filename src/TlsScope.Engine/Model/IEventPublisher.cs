namespace TlsScope.Engine.Model;

/// <summary>Where a source publishes event kinds other than chunks, keys and packets (exec
/// events, shell commands, queries, ...): every output that implements
/// <see cref="IReceive{T}"/> for the kind receives it, and no other output changes for it.</summary>
public interface IEventPublisher
{
    void Publish<T>(T item) where T : class;
}

/// <summary>An output that takes events of kind <typeparamref name="T"/>.</summary>
public interface IReceive<in T> where T : class
{
    void Receive(T item);
}
