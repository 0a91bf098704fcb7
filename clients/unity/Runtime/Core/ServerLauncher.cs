// Starts `emoplay serve` (the self-contained emoplay-serve executable, or `emoplay serve` from a Python install)
// for this process, as the launcher contract in docs/bridge/PROTOCOL.md describes: any free port, a token file,
// and --parent-pid with this process's id, so the server stops by itself if the game crashes or is killed.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Emoplay
{
    public sealed class EmoplayLaunchException : Exception
    {
        public EmoplayLaunchException(string message) : base(message) { }
    }

    public sealed class ServerLauncher : IDisposable
    {
        const int SigTerm = 15;

        public string WebSocketUrl { get; private set; }
        public string DashboardUrl { get; private set; }
        public string TokenFile { get; private set; }
        public Process Process { get; private set; }

        /// <summary>The server's stderr (its log), one line at a time; called on a worker thread.</summary>
        public event Action<string> LogLine;

        readonly object _lock = new object();
        readonly List<string> _stderrTail = new List<string>();
        string _firstLine;
        readonly ManualResetEvent _firstLineRead = new ManualResetEvent(false);

        /// <summary>Start `executable [arguments] --port 0 --token-file tokenFile --parent-pid THIS_PID` and wait
        /// (up to timeout) for its first stdout line. arguments: e.g. {"serve", "--source", "camera"} for the
        /// `emoplay` command, or {"--source", "camera"} for emoplay-serve.</summary>
        public static ServerLauncher Start(string executable, IEnumerable<string> arguments, string tokenFile,
                                           TimeSpan timeout, Action<string> logLine = null)
        {
            var launcher = new ServerLauncher();
            if (logLine != null) launcher.LogLine += logLine;
            launcher.Launch(executable, arguments, tokenFile, timeout);
            return launcher;
        }

        void Launch(string executable, IEnumerable<string> arguments, string tokenFile, TimeSpan timeout)
        {
            var args = new List<string>(arguments);
            args.AddRange(new[] { "--port", "0", "--token-file", tokenFile,
                                  "--parent-pid", System.Diagnostics.Process.GetCurrentProcess().Id.ToString() });
            var info = new ProcessStartInfo(executable, QuoteArguments(args))
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
                RedirectStandardInput = false, CreateNoWindow = true,
            };
            var process = new Process { StartInfo = info, EnableRaisingEvents = true };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data == null) { _firstLineRead.Set(); return; }
                lock (_lock) { if (_firstLine == null) _firstLine = e.Data; }
                _firstLineRead.Set();
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data == null) return;
                lock (_lock)
                {
                    _stderrTail.Add(e.Data);
                    if (_stderrTail.Count > 20) _stderrTail.RemoveAt(0);
                }
                var handler = LogLine;
                if (handler != null) handler(e.Data);
            };
            try { process.Start(); }
            catch (Exception e)
            {
                throw new EmoplayLaunchException("cannot start " + executable + ": " + e.Message +
                                                 "; check the server's path (the emoplay-serve executable, or emoplay)");
            }
            Process = process;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!_firstLineRead.WaitOne(timeout) || _firstLine == null)
            {
                var exited = process.WaitForExit(500);
                if (!exited) Stop(TimeSpan.FromSeconds(2));
                throw new EmoplayLaunchException(
                    (exited ? "emoplay serve exited with code " + process.ExitCode : "emoplay serve printed nothing within "
                     + timeout.TotalSeconds + " s") + " before its URL line; its log:\n" + StderrTail());
            }
            IDictionary<string, object> line;
            try { line = Json.Parse(_firstLine) as IDictionary<string, object>; }
            catch (FormatException) { line = null; }
            if (line == null || Fields.Str(line, "websocket") == "")
            {
                Stop(TimeSpan.FromSeconds(2));
                throw new EmoplayLaunchException("emoplay serve's first line is not its URL line: " + _firstLine);
            }
            WebSocketUrl = Fields.Str(line, "websocket");
            DashboardUrl = Fields.Str(line, "dashboard");
            TokenFile = Fields.Str(line, "token_file");
        }

        public string StderrTail()
        {
            lock (_lock) return string.Join("\n", _stderrTail.ToArray());
        }

        /// <summary>Stop the server: SIGTERM on Linux and macOS (clients are told, the camera is released), then a
        /// kill if it has not exited within grace; a kill at once on Windows. True if it exited by itself.</summary>
        public bool Stop(TimeSpan grace)
        {
            var process = Process;
            if (process == null || process.HasExited) return true;
            if (SendSigTerm(process.Id) && process.WaitForExit((int)grace.TotalMilliseconds))
            {
                process.WaitForExit();  // lets the output readers finish
                return true;
            }
            try { process.Kill(); } catch (InvalidOperationException) { }  // exited meanwhile
            process.WaitForExit();
            return false;
        }

        public void Dispose() { Stop(TimeSpan.FromSeconds(5)); }

        static bool SendSigTerm(int pid)
        {
            if (Environment.OSVersion.Platform != PlatformID.Unix && Environment.OSVersion.Platform != PlatformID.MacOSX)
                return false;
            try { return kill(pid, SigTerm) == 0; }
            catch (DllNotFoundException) { return false; }
            catch (EntryPointNotFoundException) { return false; }
        }

        [DllImport("libc", SetLastError = true)]
        static extern int kill(int pid, int sig);

        /// <summary>One command line from separate arguments (the quoting rules .NET and Mono parse on every OS).</summary>
        public static string QuoteArguments(IEnumerable<string> args)
        {
            var sb = new StringBuilder();
            foreach (var arg in args)
            {
                if (sb.Length > 0) sb.Append(' ');
                if (arg.Length > 0 && arg.IndexOfAny(new[] { ' ', '\t', '"', '\\' }) < 0) { sb.Append(arg); continue; }
                sb.Append('"');
                var backslashes = 0;
                foreach (var c in arg)
                {
                    if (c == '\\') { backslashes++; continue; }
                    if (c == '"') sb.Append('\\', backslashes * 2 + 1);
                    else sb.Append('\\', backslashes);
                    backslashes = 0;
                    sb.Append(c);
                }
                sb.Append('\\', backslashes * 2);
                sb.Append('"');
            }
            return sb.ToString();
        }
    }
}
