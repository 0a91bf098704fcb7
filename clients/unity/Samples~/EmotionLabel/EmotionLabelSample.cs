// Add to a GameObject that has an EmoplayBehaviour (and, to start the bundled server, an EmoplayServerLauncher).
using Emoplay;
using UnityEngine;

public sealed class EmotionLabelSample : MonoBehaviour
{
    public Renderer tinted;  // optional: tinted from red (unpleasant) to green (pleasant)

    void Start()
    {
        var emoplay = GetComponent<EmoplayBehaviour>();
        emoplay.indicatorVisible = true;  // this sample shows its own indicator: the label below
        emoplay.emotionChanged.AddListener((track, emotion, confidence) =>
            Debug.Log("face " + track + ": " + emotion + " (" + confidence.ToString("0.00") + ")"));
        if (emoplay.Client != null) Subscribe(emoplay.Client);
    }

    void Subscribe(EmoplayClient client)
    {
        client.EmotionChanged += e =>
        {
            if (tinted != null) tinted.material.color = Color.Lerp(Color.red, Color.green, (e.Valence + 1f) / 2f);
        };
    }

    void OnGUI() { GUI.Label(new Rect(10, 10, 300, 20), "Camera on: emoplay reads emotions on this computer"); }
}
