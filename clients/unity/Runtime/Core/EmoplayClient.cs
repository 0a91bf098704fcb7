// The emoplay bridge client core: connects to `emoplay serve`, pairs with the token, reconnects with back-off,
// sends the camera-indicator heartbeat and turns the server's messages into typed events.
// Plain C# on System.Net.WebSockets, no UnityEngine: the network runs on a background task, and every event is
// raised on the thread that calls DispatchPending() (in Unity: the main thread, from Update()).
// Protocol: docs/bridge/PROTOCOL.md in the emoplay repository.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Emoplay
{
    public sealed class EmoplayClientOptions
    {
        public string Url = "ws://127.0.0.1:8765/ws";
        public string Token = "";           // the pairing token, or:
        public string TokenFile = "";       // a file holding it (read at each connection attempt)
        public string ClientName = "unity";
        public double ProbabilitiesHz = 0;  // > 0: also receive each face's probabilities this often (at most 30)
        public string[] Events;             // null: every event type
        public double FirstRetrySeconds = 0.25;
        public double MaxRetrySeconds = 8.0;
        public double IndicatorEverySeconds = 0.25;
    }

    public sealed class EmoplayClient : IDisposable
    {
        public const int CloseUnauthorized = 4001;

        public event Action<Welcome> Connected;
        public event Action<Disconnected> Disconnected;
        public event Action<double> Reconnecting;            // seconds until the next attempt
        public event Action<string> PairingRefused;          // wrong token: no retry until Start() again
        public event Action<EmotionChanged> EmotionChanged;
        public event Action<FaceFound> FaceFound;
        public event Action<FaceLost> FaceLost;
        public event Action<PrimaryFaceChanged> PrimaryFaceChanged;
        public event Action<CameraStateChanged> CameraStateChanged;
        public event Action<int, IDictionary<string, float>> Probabilities;  // track id, probabilities
        public event Action<string, string> ServerError;                   // code, message: sent before a close
        public event Action<IDictionary<string, object>> MessageReceived;   // every message, known type or not

        readonly EmoplayClientOptions _options;
        readonly ConcurrentQueue<object> _inbox = new ConcurrentQueue<object>();
        readonly SemaphoreSlim _sendLock = new SemaphoreSlim(1, 1);
        readonly Stopwatch _clock = Stopwatch.StartNew();
        CancellationTokenSource _stop;
        Task _loop;
        volatile ClientWebSocket _socket;
        bool _indicatorDue;
        double _lastIndicator = double.NegativeInfinity;

        public EmoplayClient(EmoplayClientOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            _options = options;
        }

        /// <summary>True between a Connected and the next Disconnected event (as seen by DispatchPending's thread).</summary>
        public bool IsPaired { get; private set; }

        public bool IsRunning { get { return _loop != null && !_loop.IsCompleted; } }

        /// <summary>Connect, and keep reconnecting with back-off until Stop() or a wrong token.</summary>
        public void Start()
        {
            if (IsRunning) return;
            _stop = new CancellationTokenSource();
            var token = _stop.Token;
            _loop = Task.Run(() => RunAsync(token));
        }

        /// <summary>Close the connection (code 1000) and stop reconnecting; waits up to two seconds.</summary>
        public void Stop()
        {
            if (_stop == null) return;
            var socket = _socket;
            if (socket != null && socket.State == WebSocketState.Open)
            {
                // Send-only close: the loop's pending receive may not run beside a full CloseAsync.
                try { socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).Wait(1000); }
                catch (Exception) { }  // already closing or broken: cancelling below ends it
            }
            _stop.Cancel();
            try { _loop.Wait(2000); } catch (AggregateException) { }
            _stop.Dispose();
            _stop = null;
            IsPaired = false;
        }

        public void Dispose() { Stop(); }

        /// <summary>Call each frame the camera indicator is visible: with a camera, the server captures only while
        /// a client says so (sent at most every IndicatorEverySeconds).</summary>
        public void IndicatorDrawn() { _indicatorDue = true; }

        public bool Pause() { return Send(new Dictionary<string, object> { { "type", "pause" } }); }

        public bool Resume() { return Send(new Dictionary<string, object> { { "type", "resume" } }); }

        /// <summary>Send a client message; false if not paired.</summary>
        public bool Send(IDictionary<string, object> message)
        {
            var socket = _socket;
            if (!IsPaired || socket == null) return false;
            SendAsync(socket, Json.Write(message), CancellationToken.None).ContinueWith(t => { var _ = t.Exception; });
            return true;
        }

        /// <summary>Raise the events received since the last call, on this thread; also sends the indicator
        /// heartbeat when due. Returns how many messages and state changes were dispatched.</summary>
        public int DispatchPending()
        {
            var count = 0;
            object item;
            while (_inbox.TryDequeue(out item))
            {
                count++;
                Dispatch(item);
            }
            var now = _clock.Elapsed.TotalSeconds;
            if (IsPaired && _indicatorDue && now - _lastIndicator >= _options.IndicatorEverySeconds)
            {
                _indicatorDue = false;
                _lastIndicator = now;
                Send(new Dictionary<string, object> { { "type", "indicator" } });
            }
            return count;
        }

        void Dispatch(object item)
        {
            var closed = item as Disconnected;
            if (closed != null)
            {
                IsPaired = false;
                Raise(Disconnected, closed);
                return;
            }
            var retry = item as RetryIn;
            if (retry != null) { Raise(Reconnecting, retry.Seconds); return; }
            var refused = item as Refused;
            if (refused != null) { Raise(PairingRefused, refused.Reason); return; }
            var m = (IDictionary<string, object>)item;
            switch (Fields.Str(m, "type"))
            {
                case "welcome":
                    IsPaired = true;
                    _indicatorDue = false;  // asked for before this connection: the indicator may be gone since
                    Raise(Connected, Welcome.From(m));
                    break;
                case "EmotionChanged": Raise(EmotionChanged, global::Emoplay.EmotionChanged.From(m)); break;
                case "FaceFound": Raise(FaceFound, global::Emoplay.FaceFound.From(m)); break;
                case "FaceLost": Raise(FaceLost, global::Emoplay.FaceLost.From(m)); break;
                case "PrimaryFaceChanged": Raise(PrimaryFaceChanged, global::Emoplay.PrimaryFaceChanged.From(m)); break;
                case "CameraStateChanged": Raise(CameraStateChanged, global::Emoplay.CameraStateChanged.From(m)); break;
                case "error":
                    var onError = ServerError;
                    if (onError != null) onError(Fields.Str(m, "code"), Fields.Str(m, "message"));
                    break;
                case "probabilities":
                    var handler = Probabilities;
                    if (handler != null) handler(Fields.Int(m, "track_id"), Fields.Floats(m, "probabilities"));
                    break;
            }
            Raise(MessageReceived, m);
        }

        static void Raise<T>(Action<T> handler, T value)
        {
            if (handler != null) handler(value);
        }

        // -- the background connection loop ---------------------------------------------------------------------
        sealed class RetryIn { public double Seconds; }
        sealed class Refused { public string Reason; }

        async Task RunAsync(CancellationToken stop)
        {
            var backoff = _options.FirstRetrySeconds;
            while (!stop.IsCancellationRequested)
            {
                var code = 1006;
                var reason = "";
                var paired = false;
                using (var socket = new ClientWebSocket())
                {
                    try
                    {
                        await socket.ConnectAsync(new Uri(_options.Url), stop).ConfigureAwait(false);
                        _socket = socket;
                        await SendAsync(socket, Hello(), stop).ConfigureAwait(false);
                        var buffer = new byte[16384];
                        var message = new MemoryStream();
                        while (true)
                        {
                            var result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), stop).ConfigureAwait(false);
                            if (result.MessageType == WebSocketMessageType.Close)
                            {
                                code = result.CloseStatus.HasValue ? (int)result.CloseStatus.Value : 1005;
                                reason = result.CloseStatusDescription ?? "";
                                try
                                {
                                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", stop).ConfigureAwait(false);
                                }
                                catch (Exception) { }  // the server may have gone already
                                break;
                            }
                            message.Write(buffer, 0, result.Count);
                            if (!result.EndOfMessage) continue;
                            var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                            message.SetLength(0);
                            IDictionary<string, object> parsed;
                            try { parsed = Json.Parse(text) as IDictionary<string, object>; }
                            catch (FormatException) { continue; }
                            if (parsed == null) continue;
                            if (Fields.Str(parsed, "type") == "welcome")
                            {
                                paired = true;
                                backoff = _options.FirstRetrySeconds;
                            }
                            _inbox.Enqueue(parsed);
                        }
                    }
                    catch (OperationCanceledException) { }
                    catch (Exception e) { reason = e.GetBaseException().Message; }  // refused, reset, bad URL
                    finally { _socket = null; }
                }
                if (stop.IsCancellationRequested) return;
                var refused = code == CloseUnauthorized;
                if (paired || code != 1006)
                    _inbox.Enqueue(new Disconnected { Code = code, Reason = reason, WillRetry = !refused });
                if (refused)
                {
                    _inbox.Enqueue(new Refused { Reason = reason });
                    return;
                }
                _inbox.Enqueue(new RetryIn { Seconds = backoff });
                try { await Task.Delay(TimeSpan.FromSeconds(backoff), stop).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                backoff = Math.Min(backoff * 2.0, _options.MaxRetrySeconds);
            }
        }

        string Hello()
        {
            var hello = new Dictionary<string, object>
            {
                { "type", "hello" }, { "token", ReadToken() }, { "client", _options.ClientName },
            };
            if (_options.ProbabilitiesHz > 0) hello["probabilities_hz"] = _options.ProbabilitiesHz;
            if (_options.Events != null) hello["events"] = _options.Events;
            return Json.Write(hello);
        }

        string ReadToken()
        {
            if (!string.IsNullOrEmpty(_options.Token) || string.IsNullOrEmpty(_options.TokenFile)) return _options.Token ?? "";
            try { return File.ReadAllText(_options.TokenFile).Trim(); }
            catch (IOException) { return ""; }  // the server then refuses the pairing (4001), which says why
            catch (UnauthorizedAccessException) { return ""; }
        }

        async Task SendAsync(ClientWebSocket socket, string text, CancellationToken cancel)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await _sendLock.WaitAsync(cancel).ConfigureAwait(false);
            try
            {
                await socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cancel).ConfigureAwait(false);
            }
            finally { _sendLock.Release(); }
        }
    }
}
