// The emoplay client as a component: connects when enabled, raises its events on the main thread (from Update)
// and sends the camera-indicator heartbeat while `indicatorVisible` is true. Subscribe in code through `Client`
// (typed C# events) or in the Inspector through the UnityEvents below.
using System;
using UnityEngine;
using UnityEngine.Events;

namespace Emoplay
{
    [Serializable] public class EmotionUnityEvent : UnityEvent<int, string, float> { }   // track id, emotion, confidence
    [Serializable] public class CameraStateUnityEvent : UnityEvent<string, string> { }   // state, reason

    [AddComponentMenu("emoplay/Emoplay Client")]
    public sealed class EmoplayBehaviour : MonoBehaviour
    {
        [Tooltip("The server's WebSocket URL (the first line `emoplay serve` prints). Set by EmoplayServerLauncher.")]
        public string url = "ws://127.0.0.1:8765/ws";
        [Tooltip("The file holding the pairing token (`emoplay serve --token-file`). Set by EmoplayServerLauncher.")]
        public string tokenFile = "";
        public string clientName = "unity";
        [Tooltip("Also receive each face's probabilities this often (0: off, at most 30).")]
        public float probabilitiesHz = 0f;
        [Tooltip("True while your game shows the camera indicator: with a camera, the server captures only then.")]
        public bool indicatorVisible = false;
        [Tooltip("Connect when the component is enabled (otherwise call Connect()).")]
        public bool connectOnEnable = true;

        public EmotionUnityEvent emotionChanged = new EmotionUnityEvent();
        public CameraStateUnityEvent cameraStateChanged = new CameraStateUnityEvent();

        public EmoplayClient Client { get; private set; }

        void OnEnable()
        {
            if (connectOnEnable && GetComponent<EmoplayServerLauncher>() == null) Connect();
        }

        /// <summary>Connect with the current url and tokenFile (again, if already connected).</summary>
        public void Connect()
        {
            Disconnect();
            Client = new EmoplayClient(new EmoplayClientOptions
            {
                Url = url, TokenFile = tokenFile, ClientName = clientName, ProbabilitiesHz = probabilitiesHz,
            });
            Client.EmotionChanged += e => emotionChanged.Invoke(e.TrackId, e.Current, e.Confidence);
            Client.CameraStateChanged += c => cameraStateChanged.Invoke(c.Current, c.Reason);
            Client.PairingRefused += reason => Debug.LogError("emoplay: pairing refused: " + reason);
            Client.Start();
        }

        public void Disconnect()
        {
            if (Client == null) return;
            Client.Stop();
            Client = null;
        }

        void Update()
        {
            if (Client == null) return;
            if (indicatorVisible) Client.IndicatorDrawn();
            Client.DispatchPending();
        }

        void OnDisable() { Disconnect(); }
    }
}
