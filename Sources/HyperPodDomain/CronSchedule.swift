/// An AWS cron expression, `cron(<Minutes> <Hours> <Day-of-month> <Month> <Day-of-week> <Year>)`, as
/// `ScheduledUpdateConfig.ScheduleExpression` takes it (spec R110): each field `*`, `?` (day fields only), a number, a
/// range `a-b`, a list `a,b`, or a step `*/n` / `a/n`; month (`JAN`) and weekday (`SUN`…`SAT` = 1…7) names; exactly
/// one day field is `?`. `L`, `W` and `#` are not supported (a documented difference). Times are UTC on the virtual clock.
public struct CronSchedule: Sendable, Equatable {
    let minutes: Set<Int>
    let hours: Set<Int>
    /// nil: `?`.
    let daysOfMonth: Set<Int>?
    let months: Set<Int>
    /// 1 = Sunday … 7 = Saturday; nil: `?`.
    let daysOfWeek: Set<Int>?
    let years: Set<Int>

    /// The message of an expression that does not parse (R110).
    public static func invalidMessage(_ expression: String) -> String { "Invalid ScheduleExpression '\(expression)'." }

    /// Parses `cron(…)`; nil when it is not a valid expression.
    public init?(_ expression: String) {
        guard expression.hasPrefix("cron("), expression.hasSuffix(")") else { return nil }
        let fields = expression.dropFirst(5).dropLast().split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6 else { return nil }
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        guard let minutes = Self.field(fields[0], 0...59, names: [], question: false) ?? nil,
              let hours = Self.field(fields[1], 0...23, names: [], question: false) ?? nil,
              let dom = Self.field(fields[2], 1...31, names: [], question: true),
              let month = Self.field(fields[3], 1...12, names: months, question: false) ?? nil,
              let dow = Self.field(fields[4], 1...7, names: days, question: true),
              let years = Self.field(fields[5], 1970...2199, names: [], question: false) ?? nil,
              (dom == nil) != (dow == nil) else { return nil }
        self.minutes = minutes
        self.hours = hours
        self.daysOfMonth = dom
        self.months = month
        self.daysOfWeek = dow
        self.years = years
    }

    /// One field: nil when invalid; `.some(nil)` for `?`.
    static func field(_ text: String, _ range: ClosedRange<Int>, names: [String], question: Bool) -> Set<Int>?? {
        if text == "?" { return question ? .some(nil) : nil }
        var values: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { return nil }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n > 0 else { return nil }
                step = n
            }
            var low: Int, high: Int
            if pieces[0] == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { return nil }
                func value(_ s: Substring) -> Int? {
                    if let n = Int(s) { return n }
                    return names.firstIndex(of: s.uppercased()).map { $0 + range.lowerBound }
                }
                guard let a = value(bounds[0]) else { return nil }
                low = a
                if bounds.count == 2 {
                    guard let b = value(bounds[1]) else { return nil }
                    high = b
                } else {
                    high = pieces.count == 2 ? range.upperBound : a  // `a/n` runs to the end of the range
                }
            }
            guard range.contains(low), range.contains(high), low <= high else { return nil }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return .some(values)
    }

    /// The first matching minute strictly after `time`, nil when none is left (the years ran out).
    public func next(after time: VirtualTime) -> VirtualTime? {
        let start = time.milliseconds / 60_000 + 1  // whole minutes since the epoch
        var day = Int(start / 1440)
        var minuteOfDay = Int(start % 1440)
        for _ in 0..<(366 * 231) {
            let (y, m, d) = Self.civil(fromDays: day)
            guard y <= 2199 else { return nil }
            let weekday = ((day % 7) + 11) % 7 + 1  // 1970-01-01 was a Thursday (5)
            let dayMatches = daysOfMonth.map { $0.contains(d) } ?? daysOfWeek!.contains(weekday)
            if years.contains(y) && months.contains(m) && dayMatches {
                for hour in hours.sorted() {
                    for minute in minutes.sorted() where hour * 60 + minute >= minuteOfDay {
                        return VirtualTime(milliseconds: (Int64(day) * 1440 + Int64(hour * 60 + minute)) * 60_000)
                    }
                }
            }
            day += 1
            minuteOfDay = 0
        }
        return nil
    }

    /// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
