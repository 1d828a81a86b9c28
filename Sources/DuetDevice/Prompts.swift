import DuetCore

/// Reflection prompts, twelve or more for each of the five things partners give each other.
/// Written for couples rebuilding trust: kind, specific, and about small moments rather than
/// verdicts.
public enum Prompts {
    static let byFactor: [Factor: [String]] = [
        .safety: [
            "When did you feel safe with your partner this week? What exactly did they do or say?",
            "What is one promise you kept today, however small? How did keeping it feel?",
            "Is there something you have been afraid to say? What would make it feel safer to say it?",
            "What does your partner do that tells you they are on your side?",
            "When you feel unsure of your partner, what helps you steady yourself before you speak?",
            "Write about a moment you chose to be open when it would have been easier to hide.",
            "What is one thing you could do tomorrow that would make you easier to rely on?",
            "Which of your partner's habits makes the days feel predictable in a good way?",
            "When did you last check in before a plan changed? How was it received?",
            "What do you need to hear from your partner when trust feels thin?",
            "Describe a boundary you set or respected recently. What did it protect?",
            "What would 'being safe with each other' look like on an ordinary Tuesday evening?",
        ],
        .attunement: [
            "What did you notice about your partner's mood today before they told you?",
            "When did you last ask a question and really wait for the answer?",
            "What is something your partner cares about right now that you could ask them more about?",
            "Describe a small signal your partner gives when they are tired or overwhelmed.",
            "When did you feel truly understood this week? What made the difference?",
            "What might your partner be carrying today that they have not put into words?",
            "Write about a time you guessed wrong about what your partner felt. What did you learn?",
            "What helps you listen without preparing your reply?",
            "Which of your partner's feelings is hardest for you to sit with? Why, do you think?",
            "What did your partner's face or voice tell you today that their words did not?",
            "When did you last say 'tell me more' instead of offering advice?",
            "What would you like your partner to notice about you without being asked?",
        ],
        .comfort: [
            "When you are upset, what kind of comfort actually reaches you: words, touch, space, or something else?",
            "Describe a time your partner calmed you down. What did they do first?",
            "What is one thing you can do when your partner is hurting, even if you are part of the reason?",
            "When did you last let yourself be comforted instead of handling it alone?",
            "What helps your body settle after a hard conversation?",
            "Write about a repair that worked: a moment after a rupture when you found each other again.",
            "What words would you like to hear when you are at your most anxious?",
            "How do you show comfort when you are also hurt? What makes it hard?",
            "Which small ritual (tea, a walk, a message) helps the two of you come back to calm?",
            "When your partner pulled away recently, what might they have needed?",
            "What is something kind you could say to yourself tonight?",
            "Describe a time you stayed with your partner's pain without trying to fix it.",
        ],
        .delight: [
            "What did your partner do this week that made you smile?",
            "Write about something you admire in your partner that others might not see.",
            "When did you last laugh together? What set it off?",
            "What is a quality of your partner's that you would be sad to lose?",
            "Describe a small moment today you would like to remember.",
            "What would a day of pure delight together look like, from morning to night?",
            "When did your partner last light up? What were they talking about?",
            "What is something your partner is proud of that you could celebrate with them?",
            "Which memory of the two of you still makes you warm when you think of it?",
            "What is one playful thing you could do together this week?",
            "Write a thank-you to your partner for something ordinary.",
            "What does your partner do that nobody else does quite the same way?",
        ],
        .exploration: [
            "What is something new your partner is curious about? How could you encourage it?",
            "Where do you want to grow this year, and how could your partner support you?",
            "What did you try for the first time recently? How did it feel to be a beginner?",
            "What is a dream you have not told your partner yet?",
            "How do you react when your partner changes or grows in a way you did not expect?",
            "What adventure, large or small, would you like to plan together?",
            "Write about a time your partner's encouragement helped you take a risk.",
            "What is one question about your partner's past you have never asked?",
            "What would you like to learn together, as a pair?",
            "When did your partner last surprise you? What did it show you about them?",
            "What space does your partner need to explore on their own, and how can you make room for it?",
            "How has the way you love each other changed, and what would you like it to become?",
        ],
    ]

    /// A prompt for `factor` (or any factor) chosen with the caller's random source.
    static func pick(factor: Factor?, using random: inout some RandomNumberGenerator) -> (Factor, String) {
        let chosen = factor ?? Factor.allCases.randomElement(using: &random) ?? .safety
        let prompts = byFactor[chosen] ?? []
        return (chosen, prompts.randomElement(using: &random) ?? "")
    }

    /// A prompt for the factor named `factor` (or any): needs no journal.
    public static func pick(factor: String?, environment: DeviceEnvironment = .system) throws(DeviceError) -> (factor: String, prompt: String) {
        var random = environment.generator
        let (chosen, prompt) = pick(factor: try factor.map(EntryRules.factor), using: &random)
        return (chosen.rawValue, prompt)
    }
}
